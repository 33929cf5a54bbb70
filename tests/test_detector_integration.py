"""The detector against the real broker, in-process (same wiring as ``ecg-detector``)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import start_http_server

from detector.bundle import MODEL_FILE, load_bundle, sha256_file
from detector.contract import REASONS, Beat, encode
from detector.scoring import BundleScorer
from producer.broker import EmbeddedBroker, free_port
from tests.detector_support import (
    alerts_of,
    committed,
    copy_bundle,
    create_topic,
    make_beats,
    produce,
    produce_beats,
    read_topic,
    settings_for,
    start_detector,
    wait_until,
)
from training.data import load_dataset, split

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def test_split() -> tuple[np.ndarray, np.ndarray]:
    data = split(load_dataset())["test"]
    return data.X, data.anomaly


@pytest.fixture
def alert_all(trained_bundle: Path, tmp_path: Path) -> Path:
    """The trained bundle with a tiny threshold: every beat alerts, so alerts show coverage."""
    return copy_bundle(trained_bundle, tmp_path / "all", threshold=1e-12, version="alert-all")


def test_alerts_equal_offline_decisions_and_metrics_match(
    bootstrap_servers: str, unique: str, trained_bundle: Path,
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    X, anomaly = test_split
    beats = make_beats(X, anomaly, streams=7)
    settings = settings_for(bootstrap_servers, trained_bundle, unique)
    create_topic(bootstrap_servers, settings.topic)
    high = produce_beats(bootstrap_servers, settings.topic, beats)
    running = start_detector(settings)
    assert running.join() == 0

    offline = BundleScorer(load_bundle(trained_bundle)).score(X)
    expected = {(b.stream_id, b.seq): i for i, b in enumerate(beats) if offline.anomalous[i]}
    alerts = alerts_of(read_topic(bootstrap_servers, settings.alerts_topic, len(expected)))
    got = {(a["stream_id"], a["seq"]): a for a in alerts}
    assert len(alerts) == len(got) == len(expected) > 0
    assert set(got) == set(expected)
    for key, i in expected.items():
        assert got[key]["score"] == pytest.approx(offline.scores[i], rel=1e-5)
        assert got[key]["segment_start"] == offline.segment_start[i]
        assert got[key]["model_version"] == load_bundle(trained_bundle).version
    assert committed(bootstrap_servers, settings.group, settings.topic) == high

    n, flagged = len(beats), int(offline.anomalous.sum())
    assert running.value("ecg_detector_beats_consumed_total") == n
    assert running.value("ecg_detector_beats_scored_total") == n
    assert running.value("ecg_detector_beats_anomalous_total") == flagged
    assert running.value("ecg_detector_alerts_published_total", mode="beat") == flagged
    assert running.value("ecg_detector_anomaly_score_count") == n
    assert running.value("ecg_detector_alert_latency_seconds_count") == flagged
    tp = int((offline.anomalous & anomaly).sum())
    assert running.value("ecg_detector_labelled_beats_total", outcome="tp") == tp
    assert running.value("ecg_detector_labelled_beats_total", outcome="fn") == int(
        (~offline.anomalous & anomaly).sum())
    assert running.value("ecg_detector_batch_size_sum") == n
    assert sum(running.value("ecg_detector_consumer_lag", topic=settings.topic,
                             partition=str(p)) for p in range(4)) == 0

    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", running.metrics.registry)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    finally:
        server.shutdown()
    assert f"ecg_detector_beats_scored_total {float(n)}" in text
    assert f'ecg_detector_alerts_published_total{{mode="beat"}} {float(flagged)}' in text


def bad_payloads() -> dict[str, bytes | None]:
    good = json.loads(encode(Beat(stream_id="bad", seq=0, ts_ms=1, samples=[0.0] * 140)))
    return {
        "not_json": b"{nope",
        "schema": json.dumps({**good, "seq": -1}).encode(),
        "wrong_length": json.dumps({**good, "samples": [0.0] * 139}).encode(),
        "non_finite": json.dumps({**good, "samples": [float("nan")] * 140}).encode(),
        "oversized": b" " * 20_000,
        "unsupported_version": json.dumps({**good, "v": 2}).encode(),
    }


def test_bad_messages_go_to_dlq_and_good_beats_flow(
    bootstrap_servers: str, unique: str, alert_all: Path,
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    settings = settings_for(bootstrap_servers, alert_all, unique)
    create_topic(bootstrap_servers, settings.topic, partitions=1)
    good = make_beats(test_split[0][:60], streams=3)
    bad = bad_payloads()
    assert set(bad) == set(REASONS)
    payloads: list[tuple[bytes | None, bytes | None]] = []
    for i, beat in enumerate(good):
        payloads.append((beat.stream_id.encode(), encode(beat)))
        if i % 10 == 5:
            payloads.extend((b"bad", value) for value in bad.values())
    payloads.append((b"bad", None))  # a tombstone is not a beat either
    high = produce(bootstrap_servers, settings.topic, payloads)
    running = start_detector(settings)
    assert running.join() == 0

    dlq = read_topic(bootstrap_servers, settings.dlq_topic, 6 * len(bad) + 1)
    assert len(dlq) == 6 * len(bad) + 1
    offsets = {i for i, (_, v) in enumerate(payloads) if v is None or v in bad.values()}
    tombstones = [r for r in dlq if r.value is None]
    assert len(tombstones) == 1 and dict(tombstones[0].headers)["reason"] == b"schema"
    for record in dlq:
        headers = {k: v.decode() for k, v in record.headers}
        assert record.value is None or bad[headers["reason"]] == record.value
        assert headers["source_topic"] == settings.topic
        assert headers["source_partition"] == "0"
        assert int(headers["source_offset"]) in offsets
        assert headers["detail"]
    alerts = alerts_of(read_topic(bootstrap_servers, settings.alerts_topic, len(good)))
    assert sorted((a["stream_id"], a["seq"]) for a in alerts) == sorted(
        (b.stream_id, b.seq) for b in good)
    for reason in REASONS:
        assert running.value("ecg_detector_invalid_beats_total", reason=reason) == 6 + (
            reason == "schema")
    assert running.value("ecg_detector_beats_consumed_total") == len(payloads)
    assert committed(bootstrap_servers, settings.group, settings.topic) == high


def test_two_detectors_split_partitions(
    bootstrap_servers: str, unique: str, alert_all: Path,
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    settings = settings_for(bootstrap_servers, alert_all, unique, idle_timeout=None)
    create_topic(bootstrap_servers, settings.topic, partitions=4)
    one, two = start_detector(settings), start_detector(settings)
    wait_until(lambda: all(r.value("ecg_detector_assigned_partitions") == 2 for r in (one, two)),
               timeout_s=40, what="a 2/2 partition split")
    beats = make_beats(test_split[0][:400], streams=20)
    high = produce_beats(bootstrap_servers, settings.topic, beats)
    wait_until(lambda: sum(r.value("ecg_detector_beats_consumed_total") for r in (one, two))
               >= len(beats), 40, "all beats processed")
    one.service.stop()
    two.service.stop()
    assert one.join() == 0 and two.join() == 0

    scored = [r.value("ecg_detector_beats_scored_total") for r in (one, two)]
    assert all(s > 0 for s in scored) and sum(scored) == len(beats), (scored, high)
    alerts = alerts_of(read_topic(bootstrap_servers, settings.alerts_topic, len(beats)))
    assert sorted((a["stream_id"], a["seq"]) for a in alerts) == sorted(
        (b.stream_id, b.seq) for b in beats)
    assert committed(bootstrap_servers, settings.group, settings.topic) == high


def test_publish_failure_is_not_committed_and_retried_without_loss(
    bootstrap_servers: str, unique: str, alert_all: Path, tmp_path: Path,
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    alerts_port = free_port()  # nothing listens here yet: alerts cannot be written
    settings = settings_for(
        bootstrap_servers, alert_all, unique, alerts_bootstrap_servers=f"127.0.0.1:{alerts_port}",
        max_block_ms=500, request_timeout_ms=1000, delivery_timeout_ms=2000,
        retry_backoff_initial_s=0.2, retry_backoff_max_s=1.0, idle_timeout=4.0,
    )
    beats = make_beats(test_split[0][:100])
    high = produce_beats(bootstrap_servers, settings.topic, beats)
    running = start_detector(settings)
    wait_until(lambda: running.value("ecg_detector_publish_failures_total") >= 3, 40,
               "publish failures")
    assert committed(bootstrap_servers, settings.group, settings.topic) == {}
    assert running.value("ecg_detector_beats_scored_total") == 0
    with EmbeddedBroker(port=alerts_port, log_path=tmp_path / "alerts.log") as alerts_broker:
        assert running.join() == 0
        alerts = alerts_of(read_topic(alerts_broker.bootstrap_servers, settings.alerts_topic,
                                      len(beats)))
    keys = [(a["stream_id"], a["seq"]) for a in alerts]
    assert set(keys) == {(b.stream_id, b.seq) for b in beats}
    assert committed(bootstrap_servers, settings.group, settings.topic) == high
    assert running.value("ecg_detector_beats_scored_total") == len(beats)


def _swap_in(new: Path, target: Path) -> None:
    """Replace a bundle directory by rename, as training/export.py does."""
    old = target.with_name(target.name + ".old")
    target.rename(old)
    new.rename(target)
    shutil.rmtree(old)


def test_hot_reload_swaps_model_and_refuses_corrupt_bundle(
    bootstrap_servers: str, unique: str, trained_bundle: Path, tmp_path: Path,
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    served = copy_bundle(trained_bundle, tmp_path / "bundle", threshold=1e-12, version="vA")
    settings = settings_for(bootstrap_servers, served, unique, idle_timeout=None)
    create_topic(bootstrap_servers, settings.topic, partitions=2)
    running = start_detector(settings)
    X = test_split[0]
    rounds = [make_beats(X[i * 50:(i + 1) * 50], streams=2) for i in range(3)]
    for i, beats in enumerate(rounds):
        for j, beat in enumerate(beats):  # distinct seqs across rounds
            rounds[i][j] = beat.model_copy(update={"seq": beat.seq + 1000 * i})

    def scored(n: int) -> bool:
        return running.value("ecg_detector_beats_scored_total") >= n

    produce_beats(bootstrap_servers, settings.topic, rounds[0])
    wait_until(lambda: scored(50), 40, "round 1 scored")
    _swap_in(copy_bundle(trained_bundle, tmp_path / "b", threshold=1e-12, version="vB"), served)
    wait_until(lambda: running.value("ecg_detector_model_reloads_total", outcome="success") == 1,
               10, "reload")
    assert running.value("ecg_detector_model_info", model_version="vB") == 1
    produce_beats(bootstrap_servers, settings.topic, rounds[1])
    wait_until(lambda: scored(100), 20, "round 2 scored")

    corrupt = copy_bundle(trained_bundle, tmp_path / "c", version="vC")
    (corrupt / MODEL_FILE).write_bytes(b"not a tflite model")
    manifest = json.loads((corrupt / "bundle.json").read_text())
    manifest["files"][MODEL_FILE] = sha256_file(corrupt / MODEL_FILE)
    (corrupt / "bundle.json").write_text(json.dumps(manifest))
    _swap_in(corrupt, served)
    wait_until(lambda: running.value("ecg_detector_model_reloads_total", outcome="failure") == 1,
               10, "refused reload")
    assert running.value("ecg_detector_model_reload_failed") == 1
    produce_beats(bootstrap_servers, settings.topic, rounds[2])
    wait_until(lambda: scored(150), 20, "round 3 scored")
    running.service.stop()
    assert running.join() == 0

    alerts = alerts_of(read_topic(bootstrap_servers, settings.alerts_topic, 150))
    version = {(a["stream_id"], a["seq"]): a["model_version"] for a in alerts}
    assert len(alerts) == len(version) == 150
    for i, expected in enumerate(("vA", "vB", "vB")):
        assert {version[(b.stream_id, b.seq)] for b in rounds[i]} == {expected}
    assert running.value("ecg_detector_model_info", model_version="vB") == 1


def test_episode_policy_raises_one_alert_per_episode(
    bootstrap_servers: str, unique: str, alert_all: Path,
    test_split: tuple[np.ndarray, np.ndarray],
) -> None:
    settings = settings_for(bootstrap_servers, alert_all, unique, policy="episode",
                            episode_k=3, episode_n=5, episode_cooldown=10, max_batch=7)
    create_topic(bootstrap_servers, settings.topic, partitions=2)
    beats = make_beats(test_split[0][:80], streams=2)  # every beat is anomalous
    produce_beats(bootstrap_servers, settings.topic, beats)
    running = start_detector(settings)
    assert running.join() == 0
    alerts = alerts_of(read_topic(bootstrap_servers, settings.alerts_topic, 6))
    # k=3 anomalous beats alert, then 10 beats of cooldown, then the window starts over.
    assert sorted((a["stream_id"], a["seq"]) for a in alerts) == [
        (s, seq) for s in ("s0", "s1") for seq in (2, 15, 28)]
    assert {a["mode"] for a in alerts} == {"episode"}
    assert {a["anomalous_in_window"] for a in alerts} == {3}
    assert running.value("ecg_detector_alerts_published_total", mode="episode") == 6
