"""Threshold rules on reconstruction errors, pure numpy (score > threshold = anomalous).

None of them sees the test split: ``mean_std`` and ``percentile`` use the errors of
normal *training* beats, ``false_alarm_rate`` the normal *validation* beats, and
``best_f1`` the labelled validation beats.
"""

from __future__ import annotations

import numpy as np

from detector.bundle import ThresholdSpec
from training.config import ThresholdConfig


def mean_std(normal_train_errors: np.ndarray, k: float = 2.0) -> float:
    """Mean plus ``k`` standard deviations (population std, as numpy's default)."""
    errors = _nonempty(normal_train_errors)
    return float(errors.mean() + k * errors.std())


def percentile(normal_train_errors: np.ndarray, q: float = 95.0) -> float:
    """The ``q``-th percentile (linear interpolation) of normal training errors."""
    return float(np.percentile(_nonempty(normal_train_errors), q))


def false_alarm_rate(normal_val_errors: np.ndarray, target: float = 0.01) -> float:
    """The smallest observed error that flags at most ``target`` of normal validation beats."""
    errors = np.sort(_nonempty(normal_val_errors))
    n = errors.shape[0]
    # Flagged = strictly above the threshold. Choosing errors[i] flags n - 1 - i beats
    # (without ties); the smallest i with (n - 1 - i) / n <= target.
    i = max(int(np.ceil(n - 1 - target * n)), 0)
    return float(errors[min(i, n - 1)])


def best_f1(errors: np.ndarray, anomaly: np.ndarray) -> tuple[float, float]:
    """The threshold with the best F1 on labelled (validation) beats.

    The threshold sits midway between the lowest flagged error and the next lower
    one, so it does not hug a single beat.

    Returns:
        ``(threshold, f1)``.
    """
    scores = _nonempty(errors)
    labels = np.asarray(anomaly, dtype=bool)
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.shape[0]} labels for {scores.shape[0]} errors")
    positives = int(labels.sum())
    if positives == 0:
        raise ValueError("best_f1 needs at least one anomalous beat")
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # Only cut where the score changes: beats with equal scores fall on one side.
    cut = np.r_[np.flatnonzero(np.diff(sorted_scores)), scores.shape[0] - 1]
    tp = np.cumsum(sorted_labels)[cut]
    flagged = cut + 1
    f1 = 2 * tp / (flagged + positives)
    best = int(np.argmax(f1))
    lowest_flagged = sorted_scores[cut[best]]
    if cut[best] + 1 < scores.shape[0]:
        below = sorted_scores[cut[best] + 1]
    else:  # every beat flagged: go below the lowest score (errors are >= 0)
        below = 0.0 if lowest_flagged > 0 else lowest_flagged - 1.0
    return float((lowest_flagged + below) / 2), float(f1[best])


def calibrate(
    cfg: ThresholdConfig,
    *,
    normal_train_errors: np.ndarray,
    val_errors: np.ndarray,
    val_anomaly: np.ndarray,
) -> ThresholdSpec:
    """Apply the configured rule and record it with its parameters."""
    val_anomaly = np.asarray(val_anomaly, dtype=bool)
    if cfg.rule == "mean_std":
        value, params = mean_std(normal_train_errors, cfg.k), {"k": cfg.k}
    elif cfg.rule == "percentile":
        value, params = percentile(normal_train_errors, cfg.percentile), {"q": cfg.percentile}
    elif cfg.rule == "false_alarm_rate":
        value = false_alarm_rate(val_errors[~val_anomaly], cfg.false_alarm_rate)
        params = {"target": cfg.false_alarm_rate}
    else:
        value, f1 = best_f1(val_errors, val_anomaly)
        params = {"val_f1": f1}
    # The bundle requires a positive threshold; a perfect model could give 0.
    return ThresholdSpec(rule=cfg.rule, value=max(value, 1e-12), params=params)


def _nonempty(errors: np.ndarray) -> np.ndarray:
    values = np.asarray(errors, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("no reconstruction errors to calibrate on")
    if not np.all(np.isfinite(values)):
        raise ValueError("reconstruction errors must be finite")
    return values
