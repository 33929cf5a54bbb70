"""The embedded broker starts, serves a round trip and stops."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer

from producer.broker import BrokerError, EmbeddedBroker


@pytest.mark.integration
def test_round_trip_through_the_session_broker(bootstrap_servers: str, unique: str) -> None:
    topic = f"broker-smoke-{unique}"
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    producer.send(topic, key=b"k", value=b"hello").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    values = []
    for record in consumer:  # stops after 10 s without a record if nothing arrives
        values.append(record.value)
        break
    consumer.close()
    assert values == [b"hello"]


@pytest.mark.integration
def test_stop_is_quick_and_idempotent() -> None:
    broker = EmbeddedBroker().start()
    broker.stop()
    broker.stop()


def test_missing_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANSU_BIN", "/nonexistent/tansu")
    with pytest.raises(BrokerError, match="cannot start"):
        EmbeddedBroker().start(timeout=1)
