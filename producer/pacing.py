"""Pacing: when the n-th beat of a replay is due.

Pure and clock-injected so tests run on a fake clock. Deadlines are absolute
(``start + n / rate``) rather than "sleep one interval after each send", so sleep
overshoot and send cost never accumulate into a slower rate: a late beat is sent at
once and the schedule catches up.
"""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], object]

MIN_SLEEP_S = 0.0005
"""Below this a sleep costs more than it waits; the beat is sent without one."""


def rate_from(rate: float | None, *, streams: int, bpm: float, speed: float) -> float | None:
    """Total beats per second of a pacing choice.

    Args:
        rate: A fixed total rate; 0 means as fast as possible; None selects real time.
        streams: Number of streams (real-time mode).
        bpm: Heart rate of each stream (real-time mode).
        speed: Speed factor on real time.

    Returns:
        Beats per second, or None for as fast as possible.

    Raises:
        ValueError: A negative rate, or a non-positive stream count, bpm or speed.
    """
    if rate is not None:
        if rate < 0:
            raise ValueError(f"rate must be >= 0, got {rate}")
        return None if rate == 0 else float(rate)
    if streams < 1 or bpm <= 0 or speed <= 0:
        raise ValueError(f"need streams >= 1, bpm > 0, speed > 0 (got {streams}, {bpm}, {speed})")
    return streams * bpm / 60.0 * speed


def due_time(start: float, index: int, rate: float | None) -> float:
    """Clock time at which beat ``index`` (from 0) is due; ``start`` when unpaced."""
    return start if rate is None else start + index / rate


class Pacer:
    """Waits until each beat is due.

    Args:
        rate: Total beats per second, or None for no pacing.
        clock: Monotonic clock in seconds.
        sleep: Sleeps for a number of seconds; pass ``threading.Event.wait`` so a stop
            request interrupts a long wait.
    """

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be > 0 or None, got {rate}")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None

    @property
    def start(self) -> float | None:
        """Clock time of the first beat (None before it)."""
        return self._start

    def wait(self, index: int) -> float:
        """Block until beat ``index`` is due; returns the seconds slept (0 when late)."""
        now = self._clock()
        if self._start is None:
            self._start = now
        delay = due_time(self._start, index, self.rate) - now
        if delay < MIN_SLEEP_S:
            return 0.0
        self._sleep(delay)
        return delay
