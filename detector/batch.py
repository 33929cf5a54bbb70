"""One batch, from polled records to what must be published: decode, score, decide.

:func:`plan_batch` is pure apart from calling the injected :class:`Scorer` once: it
does not touch Kafka, metrics or the policy state, so a batch that fails to publish can
be planned again from the same inputs with the same result.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kafka.structs import TopicPartition

from detector.contract import WINDOW_LENGTH, Alert, Beat, Invalid, decode_beat, encode
from detector.kafka_io import OutRecord, dead_letter
from detector.policy import Decision, PolicyConfig, StateKey, StreamState, decide_batch
from detector.scoring import Scorer, Scores


@dataclass(frozen=True)
class Rejected:
    """A record that is not a beat, with where it came from and why."""

    topic: str
    partition: int
    offset: int
    invalid: Invalid


@dataclass(frozen=True)
class BatchPlan:
    """Everything one batch produces; applied by the service once published.

    Attributes:
        records: Records in the batch.
        first_offsets: First offset per partition (where to seek back on retry).
        commit_offsets: Offset to commit per partition (last processed + 1).
        beats: The valid beats, in batch order.
        scores: Their scores (``None`` when the batch had no valid beat).
        decisions: The policy's decision per beat.
        alerts: Alerts to publish.
        rejected: The invalid records.
        out: Records to publish (alerts and dead letters).
        policy_updates: Policy state to adopt once the batch is acknowledged.
        model_version: Version of the model that scored the batch.
        threshold: Its threshold.
    """

    records: int
    first_offsets: dict[TopicPartition, int]
    commit_offsets: dict[TopicPartition, int]
    beats: list[Beat] = field(default_factory=list)
    scores: Scores | None = None
    decisions: list[Decision] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    out: list[OutRecord] = field(default_factory=list)
    policy_updates: dict[StateKey, StreamState] = field(default_factory=dict)
    model_version: str = ""
    threshold: float = 0.0


def plan_batch(
    polled: Mapping[TopicPartition, Sequence[Any]],
    *,
    scorer: Scorer,
    policy: PolicyConfig,
    states: Mapping[StateKey, StreamState],
    alerts_topic: str,
    dlq_topic: str,
    now_ms: int,
) -> BatchPlan:
    """Decode, score (one ``scorer.score`` call) and decide a polled batch.

    Args:
        polled: kafka-python's ``poll()`` result: records per partition, in offset order.
        scorer: The model.
        policy: The alert policy.
        states: Policy state before the batch (not modified).
        alerts_topic: Topic for alerts.
        dlq_topic: Topic for dead letters.
        now_ms: Decision time stamped into alerts (epoch ms).

    Returns:
        The :class:`BatchPlan`.
    """
    beats: list[Beat] = []
    partitions: list[int] = []
    rejected: list[Rejected] = []
    out: list[OutRecord] = []
    first: dict[TopicPartition, int] = {}
    commit: dict[TopicPartition, int] = {}
    count = 0
    for tp, records in polled.items():
        if not records:
            continue
        first[tp] = records[0].offset
        commit[tp] = records[-1].offset + 1
        count += len(records)
        for record in records:
            decoded = decode_beat(record.value)
            if isinstance(decoded, Beat):
                beats.append(decoded)
                partitions.append(tp.partition)
            else:
                rejected.append(Rejected(tp.topic, tp.partition, record.offset, decoded))
                out.append(dead_letter(dlq_topic, record, decoded))
    if not beats:
        return BatchPlan(count, first, commit, rejected=rejected, out=out,
                         model_version=scorer.model_version, threshold=scorer.threshold)
    scores = scorer.score(windows_of(beats))
    flags = scores.anomalous.tolist()
    keyed = [((p, b.stream_id), a) for p, b, a in zip(partitions, beats, flags, strict=True)]
    decisions, updates = decide_batch(policy, states, keyed)
    alerts = make_alerts(beats, scores, decisions, scorer, policy, now_ms)
    out.extend(OutRecord(alerts_topic, a.stream_id.encode(), encode(a), []) for a in alerts)
    return BatchPlan(count, first, commit, beats, scores, decisions, alerts, rejected, out,
                     updates, scorer.model_version, scorer.threshold)


def windows_of(beats: Sequence[Beat]) -> np.ndarray:
    """The (n, 140) float64 matrix of the beats' samples.

    Filled from one flat iterator (every beat has exactly ``WINDOW_LENGTH`` samples),
    which is faster than ``np.array`` on a list of lists.
    """
    flat = itertools.chain.from_iterable(beat.samples for beat in beats)
    matrix = np.fromiter(flat, dtype=np.float64, count=len(beats) * WINDOW_LENGTH)
    return matrix.reshape(len(beats), WINDOW_LENGTH)


def make_alerts(
    beats: Sequence[Beat],
    scores: Scores,
    decisions: Sequence[Decision],
    scorer: Scorer,
    policy: PolicyConfig,
    now_ms: int,
) -> list[Alert]:
    """One :class:`Alert` per beat whose decision says so."""
    threshold, version, mode = scorer.threshold, scorer.model_version, policy.mode
    rows = zip(beats, decisions, scores.scores.tolist(), scores.segment_start.tolist(),
               scores.segment_end.tolist(), strict=True)
    return [
        Alert(
            stream_id=beat.stream_id,
            seq=beat.seq,
            ts_ms=beat.ts_ms,
            detected_at_ms=now_ms,
            score=score,
            threshold=threshold,
            model_version=version,
            segment_start=start,
            segment_end=end,
            mode=mode,
            anomalous_in_window=decision.anomalous_in_window,
            label=beat.label,
        )
        for beat, decision, score, start, end in rows
        if decision.alert
    ]
