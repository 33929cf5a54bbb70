"""Test helper: read back every record of a topic from the real broker."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def consume_all(servers: str, topic: str, expected: int, timeout_s: float = 30) -> list[Any]:
    """Every record of ``topic`` (all partitions from the start), waiting for ``expected``.

    After ``expected`` records (or the timeout) one more poll runs, so that a record
    beyond ``expected`` (a duplicate) shows up in the result.
    """
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    for batch in consumer.poll(timeout_ms=500).values():
        records.extend(batch)
    consumer.close()
    return records
