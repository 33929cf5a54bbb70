"""Detection metrics with the anomaly as the positive class, numpy only.

No scikit-learn or TensorFlow here, so ``ecg-evaluate`` runs on the serving
dependencies; the tests check every figure against scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.data import CLASS_NAMES


def confusion(anomaly: np.ndarray, flagged: np.ndarray) -> dict[str, int]:
    """Counts of true/false positives/negatives (positive = anomaly)."""
    y, p = np.asarray(anomaly, bool), np.asarray(flagged, bool)
    return {
        "tp": int(np.sum(y & p)),
        "fp": int(np.sum(~y & p)),
        "tn": int(np.sum(~y & ~p)),
        "fn": int(np.sum(y & ~p)),
    }


def _ratio(num: int, den: int) -> float:
    return float(num / den) if den else 0.0


def roc_curve(anomaly: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score, from (0, 0) to (1, 1)."""
    tps, flagged, pos, neg = _counts_at_thresholds(anomaly, scores)
    fps = flagged - tps
    tpr = np.r_[0.0, tps / pos] if pos else np.zeros(tps.shape[0] + 1)
    fpr = np.r_[0.0, fps / neg] if neg else np.zeros(tps.shape[0] + 1)
    return fpr, tpr


def roc_auc(anomaly: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal, ties count half)."""
    fpr, tpr = roc_curve(anomaly, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def pr_curve(anomaly: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score, highest threshold first."""
    tps, flagged, pos, _neg = _counts_at_thresholds(anomaly, scores)
    precision = tps / flagged
    recall = tps / pos if pos else np.zeros_like(precision)
    return precision, recall


def _counts_at_thresholds(
    anomaly: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """True positives and flagged beats with each distinct score as the threshold.

    Returns:
        ``(tps, flagged, positives, negatives)``: ``tps[i]`` and ``flagged[i]`` count
        the beats scoring at least the i-th highest distinct score.
    """
    y, s = _checked(anomaly, scores)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    cut = np.r_[np.flatnonzero(np.diff(s)), s.shape[0] - 1]
    return np.cumsum(y)[cut], cut + 1, int(y.sum()), int((~y).sum())


def pr_auc(anomaly: np.ndarray, scores: np.ndarray) -> float:
    """Average precision: sum over thresholds of (recall step) x precision.

    This is scikit-learn's ``average_precision_score`` (no interpolation).
    """
    precision, recall = pr_curve(anomaly, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_class_recall(
    classes: np.ndarray | None, flagged: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Share of beats flagged per abnormal ECG5000 class (2..5), with counts."""
    if classes is None:
        return {}
    result: dict[str, dict[str, Any]] = {}
    for cls in sorted(set(int(c) for c in np.unique(classes)) - {1}):
        mask = classes == cls
        hits = int(np.sum(flagged[mask]))
        result[str(cls)] = {
            "name": CLASS_NAMES.get(cls, str(cls)),
            "n": int(mask.sum()),
            "flagged": hits,
            "recall": _ratio(hits, int(mask.sum())),
        }
    return result


def detection_metrics(
    anomaly: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    classes: np.ndarray | None = None,
) -> dict[str, Any]:
    """All test figures for one scored split at one threshold (score > threshold)."""
    y, s = _checked(anomaly, scores)
    flagged = s > threshold
    c = confusion(y, flagged)
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    recall = _ratio(c["tp"], c["tp"] + c["fn"])
    return {
        "n": int(y.shape[0]),
        "threshold": float(threshold),
        "confusion": c,
        "accuracy": _ratio(c["tp"] + c["tn"], y.shape[0]),
        "precision": precision,
        "recall": recall,
        "specificity": _ratio(c["tn"], c["tn"] + c["fp"]),
        "f1": _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
        "roc_auc": roc_auc(y, s),
        "pr_auc": pr_auc(y, s),
        "false_alarm_rate": _ratio(c["fp"], c["fp"] + c["tn"]),
        "per_class_recall": per_class_recall(classes, flagged),
    }


def _checked(anomaly: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(anomaly, dtype=bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.shape[0]} labels for {s.shape[0]} scores")
    if y.size == 0:
        raise ValueError("no beats to evaluate")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return y, s
