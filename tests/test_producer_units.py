"""Pure parts of the producer: streams, the encoder, the source, settings, reports."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2

from detector.contract import Beat, decode_beat, encode
from producer.delivery import DeliveryCounts, partition_for
from producer.demo_report import percentiles, precision_recall_f1
from producer.progress import Progress, ReplayResult, progress_line, summary_lines
from producer.replay import beat_indices, planned_total
from producer.scrape import parse_snapshot
from producer.settings import ReplaySettings
from producer.source import load_replay_source, replay_order
from producer.streams import BeatEncoder, Stamp, Streams, apply_stamp, stream_ids
from training.data import load_dataset, split


@pytest.fixture(scope="module")
def test_split() -> list[Beat]:
    return load_replay_source("ucr", split="test").templates


def test_round_robin_streams_have_gap_free_seq_and_increasing_ts() -> None:
    clock = itertools.count(1_700_000_000_000, 0)  # a frozen clock: ts must still increase
    streams = Streams("p", 3, lambda: next(clock))
    stamps = [streams.next() for _ in range(30)]
    assert [s.stream_id for s in stamps[:4]] == ["p-000", "p-001", "p-002", "p-000"]
    for sid in streams.ids:
        mine = [s for s in stamps if s.stream_id == sid]
        assert [s.seq for s in mine] == list(range(10))
        assert all(b.ts_ms > a.ts_ms for a, b in itertools.pairwise(mine))


def test_ts_follows_the_wall_clock_when_it_moves() -> None:
    now = iter([1000, 1800, 2600])
    streams = Streams("x", 1, lambda: next(now))
    assert [streams.next().ts_ms for _ in range(3)] == [1000, 1800, 2600]


def test_stream_ids_are_checked() -> None:
    assert stream_ids("s", 1001)[-1] == "s-1000"
    with pytest.raises(ValueError):
        stream_ids("bad prefix", 2)
    with pytest.raises(ValueError):
        stream_ids("s", 0)


@settings(max_examples=200, deadline=None)
@given(
    index=st.integers(0, 999),
    stream=st.integers(0, 99_999),
    seq=st.integers(0, 2**62),
    ts=st.integers(0, 2**62),
)
def test_encoder_bytes_equal_the_contracts_encode(
    test_split: list[Beat], index: int, stream: int, seq: int, ts: int
) -> None:
    encoder = BeatEncoder(test_split)
    stamp = Stamp(f"demo-{stream:05d}", seq, ts)
    expected = encode(apply_stamp(test_split[index], stamp))
    assert encoder.encode(index, stamp) == expected
    assert encoder.encode(index, stamp) == expected  # the cached path too
    assert encoder.fallbacks == 0


def test_encoder_output_validates_and_round_trips(test_split: list[Beat]) -> None:
    encoder = BeatEncoder(test_split)
    streams = Streams("r", 7, lambda: 1_700_000_000_000)
    for i in range(len(test_split)):
        stamp = streams.next()
        beat = decode_beat(encoder.encode(i, stamp))
        assert isinstance(beat, Beat), beat
        assert (beat.stream_id, beat.seq, beat.ts_ms) == (stamp.stream_id, stamp.seq, stamp.ts_ms)
        assert beat.samples == test_split[i].samples
        assert (beat.label, beat.beat_class) == (test_split[i].label, test_split[i].beat_class)


def test_encoder_falls_back_to_encode_when_a_cut_is_ambiguous() -> None:
    # A sample value whose digits contain the seq sentinel makes the cut ambiguous.
    template = Beat(stream_id="-", seq=0, ts_ms=0, samples=[918273645546372819.0] * 140)
    encoder = BeatEncoder([template])
    stamp = Stamp("s-000", 3, 4)
    assert encoder.encode(0, stamp) == encode(apply_stamp(template, stamp))
    assert encoder.encode(0, stamp) == encode(apply_stamp(template, stamp))


def test_source_split_equals_the_training_split() -> None:
    data = load_dataset("ucr")
    parts = split(data)
    for name in ("train", "val", "test"):
        source = load_replay_source("ucr", split=name)
        got = sorted(tuple(b.samples) for b in source.templates)
        assert got == sorted(map(tuple, parts[name].X.tolist()))
    assert len(load_replay_source("ucr", split="test")) == 1000


def test_source_labels_classes_and_no_labels(test_split: list[Beat]) -> None:
    assert {b.label for b in test_split} == {"normal", "abnormal"}
    assert all((b.beat_class == 1) == (b.label == "normal") for b in test_split)
    stripped = load_replay_source("ucr", split="test", labels=False).templates
    assert all(b.label is None and b.beat_class is None for b in stripped)
    assert b'"label"' not in encode(stripped[0])


def test_seed_csv_has_labels_but_no_classes(tmp_path: Path) -> None:
    data = load_dataset("ucr")
    path = tmp_path / "ecg.csv"
    rows = [",".join(map(repr, x)) + f",{0 if a else 1}" for x, a in
            zip(data.X[:20].tolist(), data.anomaly[:20], strict=True)]
    path.write_text("\n".join(rows) + "\n")
    beats = load_replay_source(str(path)).templates
    assert [b.label == "abnormal" for b in beats] == data.anomaly[:20].tolist()
    assert all(b.beat_class is None for b in beats)


def test_order_shuffle_is_a_seeded_permutation() -> None:
    file_order = replay_order(5000, split="test", split_seed=21, order="file", seed=0)
    assert np.all(np.diff(file_order) > 0)
    a = replay_order(5000, split="test", split_seed=21, order="shuffle", seed=7)
    b = replay_order(5000, split="test", split_seed=21, order="shuffle", seed=7)
    c = replay_order(5000, split="test", split_seed=21, order="shuffle", seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(np.sort(a), file_order)


def test_beat_indices_loop_and_limit() -> None:
    assert list(beat_indices(3, loop=2, limit=None)) == [0, 1, 2, 0, 1, 2]
    assert list(beat_indices(3, loop=0, limit=7)) == [0, 1, 2, 0, 1, 2, 0]
    assert list(beat_indices(3, loop=1, limit=2)) == [0, 1]
    assert planned_total(3, loop=2, limit=None) == 6
    assert planned_total(3, loop=0, limit=None) is None
    assert planned_total(3, loop=0, limit=5) == 5


def test_partition_for_matches_kafkas_default_partitioner() -> None:
    for key in (b"stream-000", b"stream-001", b"demo-abc-007", b"x"):
        assert partition_for(key, [3, 1, 0, 2]) == (murmur2(key) & 0x7FFFFFFF) % 4


def test_settings_env_prefix_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECG_REPLAY_STREAMS", "5")
    monkeypatch.setenv("ECG_REPLAY_TOPIC", "from-env")
    s = ReplaySettings(topic="from-flag")  # type: ignore[call-arg]
    assert (s.streams, s.topic) == (5, "from-flag")
    with pytest.raises(ValueError):
        ReplaySettings(streams=0)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        ReplaySettings(unknown=1)  # type: ignore[call-arg]


def test_progress_and_summary_formatting() -> None:
    counts = DeliveryCounts(sent=1200, acked=1180, failed=0)
    assert progress_line(counts, 1.2, 5000) == (
        "[####................] sent 1,200/5,000 (24%)  acked 1,180  failed 0  1,000 beats/s"
    )
    assert progress_line(counts, 1.2, None) == "sent 1,200  acked 1,180  failed 0  1,000 beats/s"
    result = ReplayResult(DeliveryCounts(10, 9, 1, "KafkaTimeoutError: x"), 2, 1.0, 0.5,
                          None, False, ["s-000"])
    text = "\n".join(summary_lines(result))
    assert "failed      1" in text and "skipped bad rows 2" in text
    assert "first error KafkaTimeoutError: x" in text
    assert not result.ok and result.rate == 20.0


def test_progress_prints_at_intervals() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(1.0, lambda: now[0], out, total=10)
    counts = DeliveryCounts(sent=1)
    for t in (0.5, 1.0, 1.5, 2.1):
        now[0] = t
        progress.update(counts)
    assert out.getvalue().count("\n") == 2


def test_precision_recall_f1_and_percentiles() -> None:
    p, r, f1 = precision_recall_f1({"tp": 8, "fp": 2, "tn": 5, "fn": 8})
    assert (p, r) == (0.8, 0.5)
    assert f1 == pytest.approx(2 * 0.8 * 0.5 / 1.3)
    assert precision_recall_f1({}) == (0.0, 0.0, 0.0)
    stats = percentiles(list(range(101)))
    assert (stats["p50"], stats["p99"], stats["max"]) == (50.0, 99.0, 100.0)
    assert percentiles([]) == {}


def test_parse_snapshot_reads_the_detectors_metric_names() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from detector.metrics import DetectorMetrics

    registry = CollectorRegistry()
    m = DetectorMetrics(registry)
    m.beats_scored.inc(1000)
    m.alerts_published.labels(mode="beat").inc(400)
    m.labelled_beats.labels(outcome="tp").inc(390)
    m.labelled_beats.labels(outcome="fn").inc(7)
    m.assigned_partitions.set(4)
    m.set_model("v1", 0.01)
    snap = parse_snapshot(generate_latest(registry).decode())
    assert snap.beats_scored == 1000 and snap.alerts == 400
    assert snap.confusion == {"tp": 390, "fp": 0, "tn": 0, "fn": 7}
    assert (snap.assigned_partitions, snap.model_version, snap.threshold) == (4, "v1", 0.01)
    assert snap.minus(snap).beats_scored == 0


def test_summary_json_is_serialisable() -> None:
    from producer.demo_report import DemoReport, report_lines

    report = DemoReport("b", "v", 0.1, "s", "test", 8, 200.0, 1000, 1000, 0, 199.0, 1000, 400,
                        {"beat": 400}, 400, {"tp": 390, "fp": 10, "tn": 590, "fn": 10}, 5.0)
    assert json.loads(json.dumps(report.as_dict()))["beats_scored"] == 1000
    assert "beats scored      1000" in report_lines(report)
