"""Delivery: a throughput-tuned Kafka producer that counts acknowledged and failed sends.

``acks="all"``: a send counts as acknowledged only when every in-sync replica has it.
Batching (``linger_ms``, ``batch_size``) is what makes a Python client fast; the
partition of each stream is computed once with Kafka's own key hash (murmur2, as the
Java client does) so per-message work stays small and ``stream_id`` still decides the
partition exactly as the default partitioner would.

Ordering: one request in flight per connection, so a retried batch can never overtake
a later one and every stream's ``seq`` stays in order in its partition. The client's
idempotence is off: with kafka-python it measured slower here and it fails for good
after a broker restart (``UnknownProducerIdError``); a retry after a lost ack can
therefore repeat a beat (at-least-once), never skip or reorder one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from producer.settings import ReplaySettings

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """The producer could not be created or the topic's metadata never arrived."""


def partition_for(key: bytes, partitions: list[int]) -> int:
    """Kafka's default partition of a key (Java-compatible murmur2)."""
    ordered = sorted(partitions)
    return ordered[(murmur2(key) & 0x7FFFFFFF) % len(ordered)]


def producer_config(settings: ReplaySettings) -> dict[str, Any]:
    """KafkaProducer keyword arguments for ``settings``."""
    config: dict[str, Any] = {
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
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        assert settings.sasl_password is not None  # checked by the settings validator
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return config


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
    """Sends keyed records to one topic and counts the outcomes via future callbacks.

    Args:
        settings: Connection and batching settings.
        producer: An existing client (tests, benchmarks); created from settings if None.

    Raises:
        DeliveryError: No broker reachable.
    """

    def __init__(self, settings: ReplaySettings, producer: KafkaProducer | None = None) -> None:
        self.topic = settings.topic
        self.counts = DeliveryCounts()
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[bytes, int]] = {}
        self._flush_timeout = settings.flush_timeout_s
        try:
            self._producer = producer or KafkaProducer(**producer_config(settings))
        except KafkaError as exc:
            raise DeliveryError(
                f"cannot connect to Kafka at {settings.bootstrap_servers}: {exc}"
            ) from None

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
        """Hand one record to the client; its outcome is counted when it completes.

        Raises:
            DeliveryError: The topic's metadata did not arrive (counted as a failure);
                every later send would wait and fail the same way.
        """
        self.counts.sent += 1
        try:
            key_bytes, partition = self._route(key)
        except DeliveryError as exc:
            self._on_error(exc)
            raise
        try:
            future = self._producer.send(
                self.topic, value=value, key=key_bytes, partition=partition
            )
        except KafkaError as exc:
            self._on_error(exc)
            return
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error)

    def _on_ack(self, _metadata: object) -> None:
        # Only the client's I/O thread completes futures, so this needs no lock.
        self.counts.acked += 1

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self.counts.failed += 1
            if self.counts.first_error is None:
                self.counts.first_error = f"{type(exc).__name__}: {exc}"
                log.error("send to %s failed: %s", self.topic, self.counts.first_error)

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
        with self._lock:
            lost = self.counts.pending
            if lost:
                self.counts.failed += lost
                self.counts.first_error = self.counts.first_error or f"{lost} sends never completed"
