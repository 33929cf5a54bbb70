"""Test helper: the series names the detector's metrics declare."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from detector.metrics import DetectorMetrics


def declared_series() -> set[str]:
    """Every series name the detector exposes (``_total``, ``_bucket``... included)."""
    registry = CollectorRegistry()
    DetectorMetrics(registry)
    families = list(registry.collect())
    # Labelled gauges (consumer_lag, model_info) have no sample before their first set.
    gauges = {f.name for f in families if f.type == "gauge"}
    return gauges | {s.name for f in families for s in f.samples}
