"""Every Prometheus metric of the detector, declared in one place.

Metrics are registered against an injectable :class:`CollectorRegistry` so tests use a
fresh registry each and read values with ``registry.get_sample_value``. Labels stay
low-cardinality: reasons, outcomes, modes and partitions, never stream ids.

The names here are the contract with ``configs/prometheus/rules.yml`` and the
Grafana dashboard; rename one and those must follow.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from detector.contract import REASONS

NAMESPACE = "ecg_detector"

# Reconstruction errors of ECG5000 beats span ~1e-4 (clean normal) to ~1e-1.
SCORE_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2,
)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
CONFUSION_OUTCOMES = ("tp", "fp", "tn", "fn")
RELOAD_OUTCOMES = ("success", "failure")


class DetectorMetrics:
    """The detector's metrics, bound to one registry.

    Args:
        registry: Where to register; pass a fresh ``CollectorRegistry()`` in tests.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, namespace=NAMESPACE, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, namespace=NAMESPACE, registry=registry)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, namespace=NAMESPACE, registry=registry, buckets=buckets)

        self.beats_consumed = counter("beats_consumed", "Records read from the beats topic.")
        self.beats_scored = counter("beats_scored", "Valid beats scored by the model.")
        self.beats_anomalous = counter("beats_anomalous", "Scored beats above the threshold.")
        self.invalid_beats = counter(
            "invalid_beats", "Records dead-lettered as invalid, by reason.", ("reason",)
        )
        self.alerts_published = counter(
            "alerts_published", "Alerts acknowledged by the broker, by policy mode.", ("mode",)
        )
        self.publish_failures = counter(
            "publish_failures", "Batches whose alerts or dead letters failed; retried."
        )
        self.commit_failures = counter(
            "commit_failures", "Offset commits that failed after a batch was published."
        )
        self.labelled_beats = counter(
            "labelled_beats",
            "Scored beats that carried a label, by confusion outcome (anomaly positive).",
            ("outcome",),
        )
        self.anomaly_score = histogram(
            "anomaly_score", "Reconstruction error of scored beats.", SCORE_BUCKETS
        )
        self.alert_latency = histogram(
            "alert_latency_seconds", "From beat ts_ms to its alert being acknowledged.",
            LATENCY_BUCKETS,
        )
        self.beat_latency = histogram(
            "beat_latency_seconds", "From beat ts_ms to its batch being committed.",
            LATENCY_BUCKETS,
        )
        self.batch_duration = histogram(
            "batch_duration_seconds", "Decode, score, publish and commit of one batch.",
            BATCH_SECONDS_BUCKETS,
        )
        self.batch_size = histogram(
            "batch_size", "Records per processed batch.", BATCH_SIZE_BUCKETS
        )
        self.consumer_lag = gauge(
            "consumer_lag", "High-watermark minus position, per assigned partition.",
            ("topic", "partition"),
        )
        self.assigned_partitions = gauge("assigned_partitions", "Partitions assigned now.")
        self.model_info = gauge(
            "model_info", "Always 1; labels name the model being served.", ("model_version",)
        )
        self.model_threshold = gauge("model_threshold", "Threshold of the model being served.")
        self.last_scored = gauge(
            "last_scored_timestamp_seconds", "Unix time at which a beat was last scored."
        )
        self.model_reloads = counter(
            "model_reloads", "Hot-reload attempts of the bundle, by outcome.", ("outcome",)
        )
        self.model_reload_failed = gauge(
            "model_reload_failed",
            "1 while the bundle on disk is broken and the previous model keeps serving.",
        )
        # Touch every labelled child so series exist (at 0) before the first event:
        # rate() and absent() in alert rules then behave from the first scrape.
        for reason in REASONS:
            self.invalid_beats.labels(reason=reason)
        for outcome in CONFUSION_OUTCOMES:
            self.labelled_beats.labels(outcome=outcome)
        for outcome in RELOAD_OUTCOMES:
            self.model_reloads.labels(outcome=outcome)
        for mode in ("beat", "episode"):
            self.alerts_published.labels(mode=mode)

    def set_model(self, version: str, threshold: float) -> None:
        """Point ``model_info`` at the served model (only one version series at a time)."""
        self.model_info.clear()
        self.model_info.labels(model_version=version).set(1)
        self.model_threshold.set(threshold)
