"""Helpers for the detector's integration tests: produce beats, read topics, run in-process.

Everything talks to the real broker; nothing here mocks Kafka.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from detector.contract import Beat, encode
from detector.main import build_service
from detector.metrics import DetectorMetrics
from detector.service import DetectorService
from detector.settings import DetectorSettings, load_settings
from producer.topics import TopicSpec, ensure_topics
from tests.conftest import FAST_GROUP


def create_topic(bootstrap: str, name: str, partitions: int = 4) -> None:
    """Create a topic with a fixed number of partitions (and wait for its metadata)."""
    ensure_topics(bootstrap, [TopicSpec(name, partitions)])


def make_beats(
    X: np.ndarray, anomaly: np.ndarray | None = None, streams: int = 5, ts_ms: int | None = None
) -> list[Beat]:
    """Beats from rows of samples, spread round-robin over ``streams`` stream ids."""
    now = ts_ms if ts_ms is not None else int(time.time() * 1000)
    beats = []
    for i, row in enumerate(X):
        label = None if anomaly is None else ("abnormal" if anomaly[i] else "normal")
        beats.append(Beat(stream_id=f"s{i % streams}", seq=i // streams, ts_ms=now + i,
                          samples=row.tolist(), label=label))
    return beats


def produce(bootstrap: str, topic: str, payloads: Iterable[tuple[bytes | None, bytes | None]]
            ) -> dict[int, int]:
    """Produce (key, value) records; returns the high-watermark per partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    futures = [producer.send(topic, key=k, value=v) for k, v in payloads]
    producer.flush()
    high: dict[int, int] = {}
    for future in futures:
        meta = future.get(timeout=10)
        high[meta.partition] = max(high.get(meta.partition, 0), meta.offset + 1)
    producer.close()
    return high


def produce_beats(bootstrap: str, topic: str, beats: Sequence[Beat]) -> dict[int, int]:
    """Produce beats keyed by stream id; returns the high-watermark per partition."""
    return produce(bootstrap, topic, ((b.stream_id.encode(), encode(b)) for b in beats))


def read_topic(bootstrap: str, topic: str, expect: int | None = None,
               timeout_s: float = 20.0, idle_s: float = 1.5) -> list[Any]:
    """Every record of a topic (until ``expect`` records, or idle for ``idle_s``)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             fetch_max_wait_ms=100)
    deadline = time.monotonic() + timeout_s
    partitions = None
    while partitions is None and time.monotonic() < deadline:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            time.sleep(0.2)
    if partitions is None:
        consumer.close()
        return []
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    records: list[Any] = []
    last = time.monotonic()
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=200)
        for recs in batch.values():
            records.extend(recs)
            last = time.monotonic()
        if expect is not None and len(records) >= expect:
            break
        if expect is None and time.monotonic() - last > idle_s:
            break
    consumer.close()
    return records


def alerts_of(records: Sequence[Any]) -> list[dict[str, Any]]:
    """Decode alert records to dicts."""
    return [json.loads(r.value) for r in records]


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets for a topic, per partition."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset >= 0}


def settings_for(bootstrap: str, bundle: Path, unique: str, **extra: Any) -> DetectorSettings:
    """Detector settings for a test: unique topics and group, fast group timeouts."""
    values: dict[str, Any] = {
        "bundle": bundle, "bootstrap_servers": bootstrap, "topic": f"beats-{unique}",
        "alerts_topic": f"alerts-{unique}", "dlq_topic": f"dlq-{unique}",
        "group": f"det-{unique}", "metrics_port": 0, "idle_timeout": 3.0, "timeout": 90.0,
        "poll_timeout_ms": 100, "reload_interval_s": 0.2, **FAST_GROUP,
    }
    values.update(extra)
    return load_settings(**values)


@dataclass
class Running:
    """A detector running in a thread of the test process."""

    service: DetectorService
    metrics: DetectorMetrics
    thread: threading.Thread
    result: list[int] = field(default_factory=list)

    def value(self, name: str, **labels: str) -> float:
        """A sample value from the detector's registry (0 when absent)."""
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def join(self, timeout: float = 120.0) -> int:
        """Wait for the loop to end; returns its exit code."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "detector did not stop"
        return self.result[0]


def start_detector(settings: DetectorSettings) -> Running:
    """Build the service exactly as ``ecg-detector`` does and run it in a thread."""
    metrics = DetectorMetrics(CollectorRegistry())
    service = build_service(settings, metrics)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(service.run()), daemon=True)
    thread.start()
    return Running(service, metrics, thread, result)


def wait_until(predicate: Any, timeout_s: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def copy_bundle(src: Path, dst: Path, *, threshold: float | None = None,
                version: str | None = None) -> Path:
    """Copy a bundle, optionally changing its threshold and model version."""
    shutil.copytree(src, dst)
    manifest_path = dst / "bundle.json"
    manifest = json.loads(manifest_path.read_text())
    if threshold is not None:
        manifest["threshold"]["value"] = threshold
    if version is not None:
        manifest["model_version"] = version
    manifest_path.write_text(json.dumps(manifest))
    return dst


def produce_beats_at(bootstrap: str, topic: str, beats: Sequence[Beat]
                     ) -> list[tuple[int, int]]:
    """Produce beats keyed by stream id; returns (partition, offset) of each, in order."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    futures = [producer.send(topic, key=b.stream_id.encode(), value=encode(b)) for b in beats]
    producer.flush()
    where = [(m.partition, m.offset) for m in (f.get(timeout=10) for f in futures)]
    producer.close()
    return where
