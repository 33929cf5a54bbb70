"""Delivery: a throughput-tuned Kafka producer that counts acknowledged and failed sends.

``acks="all"``: a send counts as acknowledged only when every in-sync replica has it.
Batching (``linger_ms``, ``batch_size``) is what makes a Python client fast; the
partition of each stream is computed once with Kafka's own key hash (murmur2, as the
Java client does) so per-message work stays small and ``stream_id`` still decides the
partition exactly as the default partitioner would.

Ordering: one request in flight per connection, so a retried batch can never overtake
a later one and every stream's ``seq`` stays in order in its partition. The client's
idempotence is off: with kafka-python it measured no faster here (with 2 or 5 requests
in flight instead of 1, within the noise of the benchmark) and it fails for good
after a broker restart (``UnknownProducerIdError``); a retry after a lost ack can
therefore repeat a beat (at-least-once), never skip or reorder one.

Counting: the futures ``send`` returns are kept in order and reaped (acknowledged or
failed) in batches on the caller's thread, when the counts are read and every
``REAP_EVERY`` sends. That is cheaper than two callbacks per future (each registered
under the future's lock on the sending thread, then run on the client's I/O thread,
which competes with the sending thread for the GIL): an append, later one ``is_done``
check. The client completes every future (acknowledged, failed or expired), and
:meth:`Delivery.close` counts whatever is left, so the totals stay exact.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2
from kafka.producer.future import FutureRecordMetadata

from producer.settings import ReplaySettings

log = logging.getLogger(__name__)

REAP_EVERY = 4096
"""Sends between two reaps of completed futures (bounds the futures kept around)."""


class DeliveryError(RuntimeError):
    """The producer could not be created or the topic's metadata never arrived."""


def partition_for(key: bytes, partitions: list[int]) -> int:
    """Kafka's default partition of a key (Java-compatible murmur2)."""
    ordered = sorted(partitions)
    return ordered[(murmur2(key) & 0x7FFFFFFF) % len(ordered)]


def producer_config(settings: ReplaySettings) -> dict[str, Any]:
    """KafkaProducer keyword arguments for ``settings``."""
    return {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": False,
        "max_in_flight_requests_per_connection": 1,
        "linger_ms": settings.linger_ms,
        "batch_size": settings.batch_size,
        "max_request_size": settings.max_request_size,
        "delivery_timeout_ms": settings.delivery_timeout_ms,
        "request_timeout_ms": settings.request_timeout_ms,
        "max_block_ms": settings.max_block_ms,
        "bootstrap_timeout_ms": settings.connect_timeout_ms,
        **settings.security_kwargs(),
    }


@dataclass
class DeliveryCounts:
    """Sends so far: handed to the client, acknowledged, failed."""

    sent: int = 0
    acked: int = 0
    failed: int = 0
    first_error: str | None = None

    @property
    def pending(self) -> int:
        """Sent but neither acknowledged nor failed yet."""
        return self.sent - self.acked - self.failed


class Delivery:
    """Sends keyed records to one topic and counts their outcomes.

    Only the thread that sends may read :attr:`counts`, flush or close (the replay loop).

    Args:
        settings: Connection and batching settings.
        producer: An existing client (tests, benchmarks); created from settings if None.

    Raises:
        DeliveryError: No broker reachable.
    """

    def __init__(self, settings: ReplaySettings, producer: KafkaProducer | None = None) -> None:
        self.topic = settings.topic
        self._counts = DeliveryCounts()
        self._futures: deque[FutureRecordMetadata] = deque()
        self._routes: dict[str, tuple[bytes, int]] = {}
        self._flush_timeout = settings.flush_timeout_s
        try:
            self._producer = producer or KafkaProducer(**producer_config(settings))
        except KafkaError as exc:
            raise DeliveryError(
                f"cannot connect to Kafka at {settings.bootstrap_servers}: {exc}"
            ) from None

    @property
    def counts(self) -> DeliveryCounts:
        """Outcomes so far (completed sends are reaped first)."""
        self._reap()
        return self._counts

    def _route(self, key: str) -> tuple[bytes, int]:
        route = self._routes.get(key)
        if route is None:
            try:
                known = self._producer.partitions_for(self.topic)
            except KafkaError as exc:
                raise DeliveryError(f"no metadata for topic {self.topic!r}: {exc}") from None
            key_bytes = key.encode()
            route = self._routes[key] = (key_bytes, partition_for(key_bytes, list(known)))
        return route

    def send(self, key: str, value: bytes) -> None:
        """Hand one record to the client; its outcome is counted once it completes.

        Raises:
            DeliveryError: The topic's metadata did not arrive (counted as a failure);
                every later send would wait and fail the same way.
        """
        counts = self._counts
        counts.sent += 1
        route = self._routes.get(key)
        if route is None:
            try:
                route = self._route(key)
            except DeliveryError as exc:
                self._on_error(exc)
                raise
        try:
            future = self._producer.send(
                self.topic, value=value, key=route[0], partition=route[1]
            )
        except KafkaError as exc:
            self._on_error(exc)
            return
        self._futures.append(future)
        if not counts.sent % REAP_EVERY:
            self._reap()

    def _reap(self) -> None:
        """Count the completed futures at the head of the queue (stops at the first pending)."""
        futures, counts = self._futures, self._counts
        while futures and futures[0].is_done:
            exception = futures.popleft().exception
            if exception is None:
                counts.acked += 1
            else:
                self._on_error(exception)

    def _on_error(self, exc: BaseException) -> None:
        counts = self._counts
        counts.failed += 1
        if counts.first_error is None:
            counts.first_error = f"{type(exc).__name__}: {exc}"
            log.error("send to %s failed: %s", self.topic, counts.first_error)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for every pending send; False when the timeout passed first."""
        try:
            self._producer.flush(timeout=timeout if timeout is not None else self._flush_timeout)
        except KafkaError as exc:
            log.error("flush did not complete: %s", exc)
            return False
        return self.counts.pending == 0

    def close(self, timeout: float = 10.0) -> None:
        """Flush and close the client; sends still pending afterwards count as failed."""
        self.flush()
        self._producer.close(timeout=timeout)
        counts, lost = self._counts, 0
        for future in self._futures:  # whatever is left, in any completion order
            if not future.is_done:
                lost += 1
            elif future.exception is None:
                counts.acked += 1
            else:
                self._on_error(future.exception)
        self._futures.clear()
        if lost:
            counts.failed += lost
            counts.first_error = counts.first_error or f"{lost} sends never completed"
