"""Metrics and logs for a batch that went through (published and committed).

Called once per batch, after the commit, so retried batches are counted once and the
counters equal what went through.
"""

from __future__ import annotations

import logging

import numpy as np

from detector.batch import BatchPlan
from detector.metrics import DetectorMetrics

log = logging.getLogger(__name__)


def log_rejected(plan: BatchPlan) -> None:
    """One line per dead letter, naming topic, partition, offset and reason."""
    for bad in plan.rejected:
        log.warning("dead-lettered %s[%d]@%d: %s (%s)", bad.topic, bad.partition, bad.offset,
                    bad.invalid.reason, bad.invalid.detail[:200])


def record_batch(
    metrics: DetectorMetrics, plan: BatchPlan, acked_s: float, committed_s: float,
    duration_s: float,
) -> None:
    """Count a committed batch.

    Args:
        metrics: The detector's metrics.
        plan: The batch.
        acked_s: Unix time at which its alerts were acknowledged.
        committed_s: Unix time at which its offsets were committed.
        duration_s: Decode + score + publish + commit time.
    """
    metrics.beats_consumed.inc(plan.records)
    metrics.batch_size.observe(plan.records)
    metrics.batch_duration.observe(duration_s)
    for bad in plan.rejected:
        metrics.invalid_beats.labels(reason=bad.invalid.reason).inc()
    if plan.scores is None:
        return
    scores = plan.scores
    metrics.beats_scored.inc(len(plan.beats))
    metrics.beats_anomalous.inc(int(np.count_nonzero(scores.anomalous)))
    metrics.last_scored.set(committed_s)
    for value in scores.scores.tolist():
        metrics.anomaly_score.observe(value)
    for beat in plan.beats:
        metrics.beat_latency.observe(max(0.0, committed_s - beat.ts_ms / 1000))
    for alert in plan.alerts:
        metrics.alert_latency.observe(max(0.0, acked_s - alert.ts_ms / 1000))
        metrics.alerts_published.labels(mode=alert.mode).inc()
    _confusion(metrics, plan)


def _confusion(metrics: DetectorMetrics, plan: BatchPlan) -> None:
    """Online confusion counts for labelled beats (anomaly = positive)."""
    assert plan.scores is not None
    counts = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for beat, flagged in zip(plan.beats, plan.scores.anomalous.tolist(), strict=True):
        if beat.label is None:
            continue
        actual = beat.label == "abnormal"
        outcome = ("t" if flagged == actual else "f") + ("p" if flagged else "n")
        counts[outcome] += 1
    for outcome, n in counts.items():
        if n:
            metrics.labelled_beats.labels(outcome=outcome).inc(n)
