"""End to end through the real broker: ecg-replay -> ecg-detector (a child process) -> alerts.

The detector runs exactly as deployed (its console script, its /metrics endpoint); the
test compares what it did online with an offline evaluation of the same beats by the
same bundle (``BundleScorer``): counts, the alerted beats and the confusion counts are
equal, hence so are precision and recall.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from detector.bundle import load_bundle
from detector.contract import Alert
from detector.scoring import BundleScorer
from producer.broker import free_port
from producer.demo_report import precision_recall_f1
from producer.main import main as replay_main
from producer.scrape import DetectorSnapshot
from producer.source import load_replay_source
from producer.subprocs import DetectorProcess
from producer.topics import TopicSpec, ensure_topics
from tests.kafka_support import consume_all

pytestmark = pytest.mark.integration


def topics_for(bootstrap_servers: str, unique: str) -> dict[str, str]:
    """Fresh beats/alerts/dlq topics of one test."""
    names = {"beats": f"beats-{unique}", "alerts": f"alerts-{unique}", "dlq": f"dlq-{unique}"}
    ensure_topics(bootstrap_servers, [TopicSpec(names["beats"], 4),
                                      TopicSpec(names["alerts"], 4), TopicSpec(names["dlq"], 1)])
    return names


def start_detector(bundle: Path, servers: str, topics: dict[str, str], unique: str,
                   log_dir: Path) -> DetectorProcess:
    """``ecg-detector`` as a child with small group timeouts; ready (group joined)."""
    port = free_port()
    args = ["--bundle", str(bundle), "--bootstrap-servers", servers,
            "--topic", topics["beats"], "--alerts-topic", topics["alerts"],
            "--dlq-topic", topics["dlq"], "--group", f"g-{unique}",
            "--auto-offset-reset", "earliest", "--metrics-host", "127.0.0.1",
            "--metrics-port", str(port), "--session-timeout-ms", "6000",
            "--heartbeat-interval-ms", "1000"]
    detector = DetectorProcess(args, f"http://127.0.0.1:{port}/metrics",
                               log_dir / "detector.log").start()
    try:
        detector.wait_ready(60, threading.Event())
    except Exception:
        detector.stop()
        raise
    return detector


@pytest.fixture
def running_detector(
    trained_bundle: Path, bootstrap_servers: str, unique: str, tmp_path: Path
) -> Iterator[tuple[DetectorProcess, dict[str, str]]]:
    topics = topics_for(bootstrap_servers, unique)
    detector = start_detector(trained_bundle, bootstrap_servers, topics, unique, tmp_path)
    try:
        yield detector, topics
    finally:
        detector.stop()


def wait_scored(detector: DetectorProcess, count: int, timeout_s: float = 60) -> DetectorSnapshot:
    """Poll /metrics until ``count`` beats are scored (fails on timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        snap = detector.snapshot()
        if snap.beats_scored >= count or time.monotonic() > deadline:
            return snap
        time.sleep(0.1)


def read_alerts(servers: str, topic: str, expected: int) -> list[Alert]:
    """All alerts on ``topic`` (waits for ``expected``, then one more poll for extras)."""
    return [Alert.model_validate_json(r.value) for r in consume_all(servers, topic, expected)]


def offline(
    bundle: Path, samples: np.ndarray, abnormal: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """Offline decisions of the bundle and their confusion counts against the labels."""
    decided = BundleScorer(load_bundle(bundle)).score(samples).anomalous
    confusion = {
        "tp": int(np.sum(decided & abnormal)), "fp": int(np.sum(decided & ~abnormal)),
        "tn": int(np.sum(~decided & ~abnormal)), "fn": int(np.sum(~decided & abnormal)),
    }
    return decided, confusion


def test_replay_detector_alerts_match_offline_evaluation(
    running_detector: tuple[DetectorProcess, dict[str, str]], bootstrap_servers: str,
    trained_bundle: Path,
) -> None:
    detector, topics = running_detector
    streams = 8
    status = replay_main(["--bootstrap-servers", bootstrap_servers, "--topic", topics["beats"],
                          "--source", "ucr", "--split", "test", "--streams", str(streams),
                          "--stream-prefix", "e2e", "--rate", "0", "--progress-interval", "0"])
    assert status == 0
    snap = wait_scored(detector, 1000)
    assert detector.stop() == 0

    templates = load_replay_source("ucr", split="test").templates
    samples = np.asarray([b.samples for b in templates])
    abnormal = np.asarray([b.label == "abnormal" for b in templates])
    decided, confusion = offline(trained_bundle, samples, abnormal)

    assert snap.beats_consumed == 1000 and snap.beats_scored == 1000
    assert snap.alerts == int(decided.sum())
    assert {k: int(v) for k, v in snap.confusion.items()} == confusion
    assert precision_recall_f1(snap.confusion) == precision_recall_f1(
        {k: float(v) for k, v in confusion.items()})

    alerts = read_alerts(bootstrap_servers, topics["alerts"], int(decided.sum()))
    alerted = sorted((a.stream_id, a.seq) for a in alerts)
    # Beat n of the replay is seq n // 8 of stream e2e-(n % 8).
    expected = sorted((f"e2e-{n % streams:03d}", n // streams) for n in np.flatnonzero(decided))
    assert alerted == expected
    label_of = {(f"e2e-{n % streams:03d}", n // streams): b.label
                for n, b in enumerate(templates)}
    assert all(a.label == label_of[(a.stream_id, a.seq)] for a in alerts)
