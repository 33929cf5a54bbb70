"""Interoperability: an independent client (confluent-kafka, librdkafka) on both ends.

Beats written by confluent-kafka are scored by the detector, and the detector's alerts
are read back by confluent-kafka; the numbers equal an offline evaluation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from detector.contract import Alert, encode
from producer.source import load_replay_source
from producer.subprocs import DetectorProcess
from tests.test_e2e_pipeline import offline, running_detector, wait_scored

confluent_kafka = pytest.importorskip("confluent_kafka")

pytestmark = pytest.mark.integration
__all__ = ["running_detector"]  # the fixture, re-used from the end-to-end module

BEATS = 300


def produce_with_confluent(servers: str, topic: str) -> list[tuple[str, int, bool, str]]:
    """Write BEATS validation-split beats with librdkafka.

    Returns:
        (stream_id, seq, abnormal, label) of every beat written.
    """
    templates = load_replay_source("ucr", split="val").templates[:BEATS]
    producer = confluent_kafka.Producer({"bootstrap.servers": servers, "acks": "all",
                                         "linger.ms": 5})
    errors: list[str] = []
    written = []
    now = int(time.time() * 1000)
    for n, template in enumerate(templates):
        stream, seq = f"rdk-{n % 5}", n // 5
        beat = template.model_copy(update={"stream_id": stream, "seq": seq, "ts_ms": now + n})
        producer.produce(topic, key=stream.encode(), value=encode(beat),
                         on_delivery=lambda err, _msg: err and errors.append(str(err)))
        written.append((stream, seq, template.label == "abnormal", str(template.label)))
    assert producer.flush(30) == 0
    assert errors == []
    return written


def read_with_confluent(servers: str, topic: str, expected: int) -> list[Alert]:
    """All alerts of ``topic`` read by librdkafka (assigned partitions, from the start)."""
    consumer = confluent_kafka.Consumer({"bootstrap.servers": servers, "group.id": "interop",
                                         "enable.auto.commit": False})
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                     for p in metadata.topics[topic].partitions])
    alerts: list[Alert] = []
    deadline = time.monotonic() + 30
    while len(alerts) < expected and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=500, timeout=0.5):
            assert message.error() is None, message.error()
            alerts.append(Alert.model_validate_json(message.value()))
    alerts.extend(Alert.model_validate_json(m.value()) for m in consumer.consume(500, 0.5))
    consumer.close()
    return alerts


def test_beats_from_confluent_kafka_are_scored_and_alerts_read_by_it(
    running_detector: tuple[DetectorProcess, dict[str, str]], bootstrap_servers: str,
    trained_bundle: Path,
) -> None:
    detector, topics = running_detector
    written = produce_with_confluent(bootstrap_servers, topics["beats"])
    snap = wait_scored(detector, BEATS)
    assert snap.beats_scored == BEATS

    templates = load_replay_source("ucr", split="val").templates[:BEATS]
    samples = np.asarray([b.samples for b in templates])
    abnormal = np.asarray([w[2] for w in written])
    decided, confusion = offline(trained_bundle, samples, abnormal)
    assert {k: int(v) for k, v in snap.confusion.items()} == confusion

    alerts = read_with_confluent(bootstrap_servers, topics["alerts"], int(decided.sum()))
    assert len(alerts) == int(decided.sum()) == snap.alerts
    expected = sorted((written[n][0], written[n][1]) for n in np.flatnonzero(decided))
    assert sorted((a.stream_id, a.seq) for a in alerts) == expected
