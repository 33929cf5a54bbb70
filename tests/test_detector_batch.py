"""plan_batch with a fake Scorer: one model call per batch, errors as data, pure policy."""

from __future__ import annotations

import json

import numpy as np
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import TopicPartition

from detector.batch import plan_batch
from detector.contract import Beat, encode
from detector.policy import PolicyConfig, StreamState
from detector.scoring import Scores


class FakeScorer:
    """Anomalous when the first sample is > 0; score = first sample."""

    model_version = "fake-1"
    threshold = 0.0

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, windows: np.ndarray) -> Scores:
        self.calls.append(windows.shape[0])
        first = windows[:, 0].astype(np.float64)
        start = np.full(len(first), 10, dtype=np.int64)
        return Scores(first, first > self.threshold, start, start + 20)


def record(
    tp: TopicPartition, offset: int, value: bytes | None, key: bytes = b"k"
) -> ConsumerRecord:
    return ConsumerRecord(tp.topic, tp.partition, -1, offset, 0, 0, key, value, [], None,
                          len(key), len(value or b""), -1)


def beat(stream: str, seq: int, first: float) -> bytes:
    return encode(Beat(stream_id=stream, seq=seq, ts_ms=1000 + seq,
                       samples=[first] + [0.0] * 139, label="abnormal"))


def test_batch_scores_once_and_dead_letters_bad_records() -> None:
    p0, p1 = TopicPartition("beats", 0), TopicPartition("beats", 1)
    polled = {
        p0: [record(p0, 5, beat("a", 0, 1.0)), record(p0, 6, b"{bad"),
             record(p0, 7, beat("a", 1, -1.0))],
        p1: [record(p1, 40, beat("b", 0, 2.0)), record(p1, 41, None)],
    }
    scorer = FakeScorer()
    plan = plan_batch(polled, scorer=scorer, policy=PolicyConfig(), states={},
                      alerts_topic="alerts", dlq_topic="dlq", now_ms=5000)
    assert scorer.calls == [3]
    assert plan.records == 5
    assert plan.first_offsets == {p0: 5, p1: 40}
    assert plan.commit_offsets == {p0: 8, p1: 42}
    assert [(a.stream_id, a.seq, a.score, a.segment_start) for a in plan.alerts] == [
        ("a", 0, 1.0, 10), ("b", 0, 2.0, 10)]
    assert all(a.detected_at_ms == 5000 and a.model_version == "fake-1" for a in plan.alerts)
    assert [(r.partition, r.offset, r.invalid.reason) for r in plan.rejected] == [
        (0, 6, "not_json"), (1, 41, "schema")]
    dlq = [r for r in plan.out if r.topic == "dlq"]
    assert [r.value for r in dlq] == [b"{bad", None]
    assert dict(dlq[0].headers)["source_offset"] == b"6"
    alerts = [r for r in plan.out if r.topic == "alerts"]
    assert [r.key for r in alerts] == [b"a", b"b"]
    assert json.loads(alerts[0].value)["label"] == "abnormal"


def test_batch_without_valid_beats_does_not_call_the_model() -> None:
    tp = TopicPartition("beats", 0)
    scorer = FakeScorer()
    plan = plan_batch({tp: [record(tp, 0, b"x")]}, scorer=scorer, policy=PolicyConfig(),
                      states={}, alerts_topic="alerts", dlq_topic="dlq", now_ms=0)
    assert scorer.calls == [] and plan.scores is None and len(plan.out) == 1


def test_episode_policy_updates_are_returned_not_applied() -> None:
    tp = TopicPartition("beats", 3)
    polled = {tp: [record(tp, i, beat("s", i, 1.0)) for i in range(4)]}
    states = {(3, "s"): StreamState((True,), 0)}
    policy = PolicyConfig("episode", k=2, n=3, cooldown=5)
    plan = plan_batch(polled, scorer=FakeScorer(), policy=policy, states=states,
                      alerts_topic="alerts", dlq_topic="dlq", now_ms=0)
    assert [a.seq for a in plan.alerts] == [0]
    assert plan.alerts[0].mode == "episode" and plan.alerts[0].anomalous_in_window == 2
    assert states == {(3, "s"): StreamState((True,), 0)}
    assert plan.policy_updates == {(3, "s"): StreamState((), 2)}


def test_keyless_tombstone_is_dead_lettered_with_an_empty_value() -> None:
    tp = TopicPartition("beats", 0)
    rec = ConsumerRecord("beats", 0, -1, 9, 0, 0, None, None, [], None, -1, -1, -1)
    plan = plan_batch({tp: [rec]}, scorer=FakeScorer(), policy=PolicyConfig(), states={},
                      alerts_topic="alerts", dlq_topic="dlq", now_ms=0)
    assert [(r.key, r.value) for r in plan.out] == [(None, b"")]
    assert dict(plan.out[0].headers)["reason"] == b"schema"
