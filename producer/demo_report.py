"""The demo's closing summary: pure computations and formatting.

Online accuracy comes from the detector's own confusion counters (what it measured on
the labelled beats while streaming); latency from the demo's alert consumer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


def precision_recall_f1(confusion: dict[str, float]) -> tuple[float, float, float]:
    """Precision, recall and F1 with the anomaly as the positive class (0 when undefined)."""
    tp, fp, fn = confusion.get("tp", 0.0), confusion.get("fp", 0.0), confusion.get("fn", 0.0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def percentiles(
    values: list[int] | list[float], qs: tuple[int, ...] = (50, 95, 99)
) -> dict[str, float]:
    """``{"p50": ..., "p95": ..., "p99": ..., "max": ...}``; empty for no values."""
    if not values:
        return {}
    arr = np.asarray(values, dtype=np.float64)
    out = {f"p{q}": float(np.percentile(arr, q)) for q in qs}
    out["max"] = float(arr.max())
    return out


@dataclass
class DemoReport:
    """Everything the demo measured (also written as ``summary.json``)."""

    broker: str
    model_version: str | None
    threshold: float | None
    source: str
    split: str
    streams: int
    requested_rate: float | None
    beats_sent: int
    beats_acked: int
    beats_failed: int
    replay_rate: float
    beats_scored: int
    alerts: int
    alerts_by_mode: dict[str, int]
    alerts_received: int
    confusion: dict[str, int]
    end_to_end_s: float
    detection_latency_ms: dict[str, float] = field(default_factory=dict)
    received_latency_ms: dict[str, float] = field(default_factory=dict)
    detector_exit: int | None = None
    interrupted: bool = False
    logs: str = ""

    @property
    def throughput(self) -> float:
        """Beats scored per second from the first send until the last was scored."""
        return self.beats_scored / self.end_to_end_s if self.end_to_end_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with precision/recall/F1 and throughput added."""
        p, r, f1 = precision_recall_f1({k: float(v) for k, v in self.confusion.items()})
        return {**asdict(self), "precision": p, "recall": r, "f1": f1,
                "throughput": self.throughput}


def _latency(stats: dict[str, float]) -> str:
    if not stats:
        return "n/a"
    return "  ".join(f"{k} {v:,.0f}" for k, v in stats.items())


def report_lines(r: DemoReport) -> list[str]:
    """The summary printed at the end of ``ecg-demo``."""
    p, rec, f1 = precision_recall_f1({k: float(v) for k, v in r.confusion.items()})
    c = r.confusion
    requested = "max" if r.requested_rate is None else f"{r.requested_rate:g}"
    modes = ", ".join(f"{m} {n}" for m, n in sorted(r.alerts_by_mode.items()) if n) or "none"
    threshold = "?" if r.threshold is None else f"{r.threshold:.6g}"
    return [
        "=" * 72,
        "ECG demo summary" + ("  (interrupted)" if r.interrupted else ""),
        f"broker            {r.broker}",
        f"model             {r.model_version} (threshold {threshold})",
        f"beats replayed    {r.beats_sent} ({r.source}, split {r.split}) over {r.streams} "
        f"streams at {r.replay_rate:,.0f} beats/s (requested {requested})",
        f"                  acked {r.beats_acked}, failed {r.beats_failed}",
        f"beats scored      {r.beats_scored}",
        f"alerts            {r.alerts} ({modes}); received by the demo's consumer "
        f"{r.alerts_received}",
        f"online accuracy   precision {p:.3f}  recall {rec:.3f}  F1 {f1:.3f}  "
        f"(tp {c.get('tp', 0)} fp {c.get('fp', 0)} tn {c.get('tn', 0)} fn {c.get('fn', 0)})",
        f"throughput        {r.beats_scored} beats scored in {r.end_to_end_s:.2f} s from the "
        f"first send = {r.throughput:,.0f} beats/s",
        f"latency ms        beat ts -> alert decided: {_latency(r.detection_latency_ms)}",
        f"                  beat ts -> alert received: {_latency(r.received_latency_ms)}",
        f"detector          exit status {r.detector_exit}; logs in {r.logs}",
        "=" * 72,
    ]
