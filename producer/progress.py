"""Progress line while replaying, and the final summary.

Formatting is pure (:func:`progress_line`, :func:`summary_lines`); :class:`Progress`
only decides when to print. On a terminal the line redraws in place; otherwise (logs,
CI) it prints one line per interval.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from producer.delivery import DeliveryCounts


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did.

    Attributes:
        counts: Sent, acknowledged and failed records.
        skipped_bad: Malformed source rows skipped.
        elapsed_s: Seconds from the first send to the end of the final flush.
        send_elapsed_s: Seconds from the first send to the last one (the paced part).
        requested_rate: Beats/s asked for (None = as fast as possible).
        interrupted: A stop signal ended the replay early.
        streams: Stream ids used.
    """

    counts: DeliveryCounts
    skipped_bad: int
    elapsed_s: float
    send_elapsed_s: float
    requested_rate: float | None
    interrupted: bool
    streams: list[str]

    @property
    def rate(self) -> float:
        """Achieved send rate (beats/s) over the sending part."""
        return self.counts.sent / self.send_elapsed_s if self.send_elapsed_s > 0 else 0.0

    @property
    def ok(self) -> bool:
        """True when every send was acknowledged."""
        return self.counts.failed == 0 and self.counts.acked == self.counts.sent


BAR_WIDTH = 20


def progress_line(counts: DeliveryCounts, elapsed_s: float, total: int | None) -> str:
    """``[#####...............] sent 1,200/5,000 (24%)  acked 1,180  failed 0  1,000 beats/s``.

    The bar appears only when the total is known (not with ``--loop 0`` and no limit).
    """
    rate = counts.sent / elapsed_s if elapsed_s > 0 else 0.0
    done = f"{counts.sent:,}"
    bar = ""
    if total:
        fraction = min(1.0, counts.sent / total)
        filled = int(fraction * BAR_WIDTH)
        bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
        done += f"/{total:,} ({100 * fraction:.0f}%)"
    return (
        f"{bar}sent {done}  acked {counts.acked:,}  failed {counts.failed:,}  "
        f"{rate:,.0f} beats/s"
    )


def summary_lines(result: ReplayResult) -> list[str]:
    """The final summary of a replay, one fact per line."""
    c = result.counts
    requested = "max" if result.requested_rate is None else f"{result.requested_rate:,.1f}"
    lines = [
        "replay summary" + (" (interrupted)" if result.interrupted else ""),
        f"  sent        {c.sent:,} beats over {len(result.streams)} streams",
        f"  acked       {c.acked:,}",
        f"  failed      {c.failed:,}",
        f"  skipped bad rows {result.skipped_bad:,}",
        f"  rate        {result.rate:,.1f} beats/s (requested {requested})",
        f"  elapsed     {result.elapsed_s:.2f} s (incl. final flush)",
    ]
    if c.first_error:
        lines.append(f"  first error {c.first_error}")
    return lines


class Progress:
    """Prints :func:`progress_line` every ``interval_s`` seconds.

    Args:
        interval_s: Seconds between lines; 0 disables progress output.
        clock: Monotonic clock.
        out: Stream to print on (stderr by default).
        total: Expected number of beats, when known.
    """

    def __init__(
        self,
        interval_s: float,
        clock: Callable[[], float],
        out: TextIO | None = None,
        total: int | None = None,
    ) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._out = out or sys.stderr
        self._total = total
        self._start = clock()
        self._next = self._start + interval_s
        self._tty = self._out.isatty()
        self._printed = False

    def due(self) -> bool:
        """True when the next line is due (cheap to call per beat)."""
        return bool(self.interval_s) and self._clock() >= self._next

    def update(self, counts: DeliveryCounts) -> None:
        """Print a line if the interval has passed."""
        if not self.interval_s:
            return
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self.interval_s
        line = progress_line(counts, now - self._start, self._total)
        self._out.write(f"\r{line}\x1b[K" if self._tty else f"{line}\n")
        self._out.flush()
        self._printed = True

    def close(self) -> None:
        """End a redrawn line so what follows starts on a fresh line."""
        if self._printed and self._tty:
            self._out.write("\n")
            self._out.flush()
