"""Metrics and logs for a batch that went through (published and committed).

Called once per batch, after the commit, so retried batches are counted once and the
counters equal what went through.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import numpy as np
from prometheus_client import Histogram

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

    Counters get one ``inc(n)`` per label value per batch; histograms have no public
    way to add many values at once, so each value is observed, from one numpy array.

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
    for reason, n in Counter(bad.invalid.reason for bad in plan.rejected).items():
        metrics.invalid_beats.labels(reason=reason).inc(n)
    if plan.scores is None:
        return
    scores = plan.scores
    metrics.beats_scored.inc(len(plan.beats))
    metrics.beats_anomalous.inc(int(np.count_nonzero(scores.anomalous)))
    metrics.last_scored.set(committed_s)
    _observe_all(metrics.anomaly_score, scores.scores)
    _observe_all(metrics.beat_latency, _latencies(committed_s, (b.ts_ms for b in plan.beats)))
    if plan.alerts:
        _observe_all(metrics.alert_latency, _latencies(acked_s, (a.ts_ms for a in plan.alerts)))
        for mode, n in Counter(alert.mode for alert in plan.alerts).items():
            metrics.alerts_published.labels(mode=mode).inc(n)
    _confusion(metrics, plan)


def _latencies(at_s: float, ts_ms: Iterable[int]) -> np.ndarray:
    """Seconds from each ``ts_ms`` to ``at_s``; clamped at 0 (producer clock skew)."""
    return np.maximum(0.0, at_s - np.fromiter(ts_ms, dtype=np.float64) / 1000)


def _observe_all(histogram: Histogram, values: np.ndarray) -> None:
    observe = histogram.observe
    for value in values.tolist():
        observe(value)


def _confusion(metrics: DetectorMetrics, plan: BatchPlan) -> None:
    """Online confusion counts for labelled beats (anomaly = positive)."""
    assert plan.scores is not None
    pairs = Counter(zip((b.label for b in plan.beats), plan.scores.anomalous.tolist(),
                        strict=True))
    for (label, flagged), n in pairs.items():
        if label is None:
            continue
        actual = label == "abnormal"
        outcome = ("t" if flagged == actual else "f") + ("p" if flagged else "n")
        metrics.labelled_beats.labels(outcome=outcome).inc(n)
