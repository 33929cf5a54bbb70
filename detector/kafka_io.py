"""Kafka plumbing: client configuration from the settings, dead-letter records, lag.

Everything that knows kafka-python's configuration keys lives here (the security
options come from :mod:`detector.kafka_security`, shared with the replay producer), so
the service loop only sees a consumer and a producer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from detector.contract import Invalid
from detector.settings import DetectorSettings

DETAIL_HEADER_LIMIT = 500
"""Dead-letter ``detail`` headers are truncated to this many bytes."""

PRODUCER_BATCH_BYTES = 256 * 1024
"""Producer record-batch size: a 500-beat batch's alerts (~330 B each) fit in one per
partition, so the sender is woken a few times per batch, not once per ~50 alerts."""


def consumer_config(settings: DetectorSettings) -> dict[str, Any]:
    """Configuration of the beats consumer: manual commits, bounded batches."""
    return {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "group_id": settings.group,
        "client_id": settings.client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": settings.auto_offset_reset,
        "max_poll_records": settings.max_batch,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "bootstrap_timeout_ms": settings.bootstrap_timeout_ms,
        "reconnect_backoff_max_ms": settings.reconnect_backoff_max_ms,
        **settings.security_kwargs(),
    }


def producer_config(settings: DetectorSettings) -> dict[str, Any]:
    """Configuration of the alerts/dead-letter producer: acks from all replicas.

    Idempotence is off: after a broker restart an idempotent kafka-python producer
    can fail for good, while the service recovers by re-sending the uncommitted batch
    (at-least-once, duplicates possible) with a fresh producer.
    """
    servers = settings.alerts_bootstrap_servers or settings.bootstrap_servers
    return {
        "bootstrap_servers": servers.split(","),
        "client_id": f"{settings.client_id}-producer",
        "acks": "all",
        "enable_idempotence": False,
        "linger_ms": settings.linger_ms,
        "batch_size": PRODUCER_BATCH_BYTES,
        "delivery_timeout_ms": settings.delivery_timeout_ms,
        "request_timeout_ms": settings.request_timeout_ms,
        "max_block_ms": settings.max_block_ms,
        "bootstrap_timeout_ms": settings.max_block_ms,
        "reconnect_backoff_max_ms": settings.reconnect_backoff_max_ms,
        **settings.security_kwargs(),
    }


def make_consumer(settings: DetectorSettings) -> KafkaConsumer:
    """A consumer in the detector's group, not yet subscribed."""
    return KafkaConsumer(**consumer_config(settings))


def make_producer(settings: DetectorSettings) -> KafkaProducer:
    """A producer for alerts and dead letters (connects to the broker now)."""
    return KafkaProducer(**producer_config(settings))


@dataclass(frozen=True)
class OutRecord:
    """One record to publish: topic, key, value and headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def dead_letter(
    dlq_topic: str, record: Any, invalid: Invalid
) -> OutRecord:
    """The dead-letter record for a bad input record: its original key and bytes.

    Args:
        dlq_topic: Topic of dead letters.
        record: The kafka-python ``ConsumerRecord`` that failed to decode.
        invalid: Why it failed.

    Returns:
        The record to publish, with headers ``reason``, ``source_topic``,
        ``source_partition``, ``source_offset``, ``detail``. A keyless tombstone is
        dead-lettered with an empty value.
    """
    headers = [
        ("reason", invalid.reason.encode()),
        ("source_topic", str(record.topic).encode()),
        ("source_partition", str(record.partition).encode()),
        ("source_offset", str(record.offset).encode()),
        ("detail", invalid.detail.encode("utf-8", "replace")[:DETAIL_HEADER_LIMIT]),
    ]
    value = record.value
    if value is None and record.key is None:
        value = b""  # Kafka producers refuse a record with neither key nor value
    return OutRecord(dlq_topic, record.key, value, headers)


def partition_lag(consumer: KafkaConsumer) -> dict[TopicPartition, int]:
    """Lag per assigned partition: fetch high-watermark minus the consumer's position.

    The high-watermark comes from fetch responses (Tansu's ListOffsets is wrong, see
    ENVIRONMENT.md); partitions not fetched yet are left out.
    """
    lag = {}
    for tp in consumer.assignment():
        high = consumer.highwater(tp)
        if high is None:
            continue
        position = consumer.position(tp, timeout_ms=1000)
        if position is not None:
            lag[tp] = max(0, int(high) - int(position))
    return lag


class RevokeHandler(ConsumerRebalanceListener):
    """Forwards rebalance callbacks to plain functions (kafka-python wants a subclass)."""

    def __init__(self, on_revoked: Any, on_assigned: Any) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._on_revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._on_assigned(set(assigned))
