"""The replay loop: templates in order, paced, stamped onto streams, delivered.

Shared by ``ecg-replay`` and ``ecg-demo``. A stop event (set by a signal handler)
ends the loop between two beats; the caller then flushes, so nothing handed to the
client is lost.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from producer.delivery import Delivery
from producer.pacing import Pacer
from producer.progress import Progress, ReplayResult
from producer.settings import ReplaySettings
from producer.source import ReplaySource
from producer.streams import BeatEncoder, Streams


def wall_ms() -> int:
    """Epoch milliseconds now."""
    return time.time_ns() // 1_000_000


def beat_indices(count: int, *, loop: int, limit: int | None) -> Iterator[int]:
    """Template indices of a replay: ``loop`` passes (0 = forever), at most ``limit`` beats."""
    if count <= 0:
        return iter(())
    passes = itertools.repeat(range(count)) if loop == 0 else itertools.repeat(range(count), loop)
    indices = itertools.chain.from_iterable(passes)
    return indices if limit is None else itertools.islice(indices, limit)


def planned_total(count: int, *, loop: int, limit: int | None) -> int | None:
    """How many beats the replay will send (None = unbounded)."""
    total = None if loop == 0 else count * loop
    if limit is not None:
        total = limit if total is None else min(total, limit)
    return total


def run_replay(
    source: ReplaySource,
    settings: ReplaySettings,
    delivery: Delivery,
    stop: threading.Event,
    *,
    clock: Callable[[], float] = time.monotonic,
    now_ms: Callable[[], int] = wall_ms,
    progress_out: TextIO | None = None,
) -> ReplayResult:
    """Send the replay; returns before the final flush (see :func:`finish`).

    Raises:
        producer.delivery.DeliveryError: Topic metadata never arrived.
    """
    streams = Streams(settings.stream_prefix, settings.streams, now_ms)
    pacer = Pacer(settings.total_rate(), clock, stop.wait)
    total = planned_total(len(source), loop=settings.loop, limit=settings.limit)
    progress = Progress(settings.progress_interval_s, clock, progress_out, total)
    encoder = BeatEncoder(source.templates)
    # Bound methods looked up once: the loop body runs once per beat.
    send, next_stamp, encode, stopped = delivery.send, streams.next, encoder.encode, stop.is_set
    wait = pacer.wait if pacer.rate is not None else None
    progress_due = progress.due
    started = clock()
    try:
        for n, index in enumerate(beat_indices(len(source), loop=settings.loop,
                                               limit=settings.limit)):
            if wait is not None:
                wait(n)
            if stopped():
                break
            stamp = next_stamp()
            send(stamp.stream_id, encode(index, stamp))
            if progress_due():
                progress.update(delivery.counts)
    finally:
        progress.close()
    return ReplayResult(
        counts=delivery.counts,
        skipped_bad=len(source.skipped),
        elapsed_s=clock() - started,
        send_elapsed_s=clock() - (started if pacer.start is None else pacer.start),
        requested_rate=settings.total_rate(),
        interrupted=stop.is_set(),
        streams=streams.ids,
    )


def finish(
    result: ReplayResult, delivery: Delivery, clock: Callable[[], float] = time.monotonic
) -> ReplayResult:
    """Flush and close the client; the result then has final counts and includes the flush."""
    flush_started = clock()
    delivery.close()
    return dataclasses.replace(
        result, counts=delivery.counts, elapsed_s=result.elapsed_s + clock() - flush_started
    )
