"""Read the detector's Prometheus endpoint into the few numbers the demo reports.

:func:`parse_snapshot` is pure (text in, numbers out); :func:`scrape` adds the HTTP GET;
:func:`scrape_value` reads one sample (waits in tests and benchmarks).
Metric names come from :mod:`detector.metrics` (the contract with the dashboards).
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from detector.metrics import CONFUSION_OUTCOMES, NAMESPACE

SCORED = f"{NAMESPACE}_beats_scored_total"
CONSUMED = f"{NAMESPACE}_beats_consumed_total"
ALERTS = f"{NAMESPACE}_alerts_published_total"
LABELLED = f"{NAMESPACE}_labelled_beats_total"
ASSIGNED = f"{NAMESPACE}_assigned_partitions"
LAG = f"{NAMESPACE}_consumer_lag"
THRESHOLD = f"{NAMESPACE}_model_threshold"
MODEL_INFO = f"{NAMESPACE}_model_info"


class ScrapeError(RuntimeError):
    """The metrics endpoint did not answer."""


@dataclass(frozen=True)
class DetectorSnapshot:
    """The detector's counters at one moment."""

    beats_consumed: float = 0.0
    beats_scored: float = 0.0
    alerts_by_mode: dict[str, float] = field(default_factory=dict)
    confusion: dict[str, float] = field(default_factory=dict)
    assigned_partitions: float = 0.0
    lag: float = 0.0
    threshold: float | None = None
    model_version: str | None = None

    @property
    def alerts(self) -> float:
        """Alerts of every mode."""
        return sum(self.alerts_by_mode.values())

    def minus(self, base: DetectorSnapshot) -> DetectorSnapshot:
        """Counter increases since ``base`` (gauges keep this snapshot's values)."""
        return DetectorSnapshot(
            beats_consumed=self.beats_consumed - base.beats_consumed,
            beats_scored=self.beats_scored - base.beats_scored,
            alerts_by_mode={m: v - base.alerts_by_mode.get(m, 0.0)
                            for m, v in self.alerts_by_mode.items()},
            confusion={o: v - base.confusion.get(o, 0.0) for o, v in self.confusion.items()},
            assigned_partitions=self.assigned_partitions,
            lag=self.lag,
            threshold=self.threshold,
            model_version=self.model_version,
        )


def parse_snapshot(text: str) -> DetectorSnapshot:
    """Parse Prometheus text exposition into a :class:`DetectorSnapshot`."""
    values: dict[str, float] = {}
    alerts: dict[str, float] = {}
    confusion = dict.fromkeys(CONFUSION_OUTCOMES, 0.0)
    lag = 0.0
    version = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name == ALERTS:
                alerts[labels.get("mode", "")] = value
            elif name == LABELLED:
                confusion[labels.get("outcome", "")] = value
            elif name == LAG:
                lag += value
            elif name == MODEL_INFO and value == 1.0:
                version = labels.get("model_version")
            else:
                values[name] = value
    return DetectorSnapshot(
        beats_consumed=values.get(CONSUMED, 0.0),
        beats_scored=values.get(SCORED, 0.0),
        alerts_by_mode=alerts,
        confusion=confusion,
        assigned_partitions=values.get(ASSIGNED, 0.0),
        lag=lag,
        threshold=values.get(THRESHOLD),
        model_version=version,
    )


def fetch_metrics(url: str, timeout: float = 2.0) -> str:
    """GET ``url`` (a Prometheus text endpoint) and return its body.

    Raises:
        ScrapeError: Connection refused, timeout or an HTTP error.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode())
    except OSError as exc:
        raise ScrapeError(f"{url}: {exc}") from None


def scrape(url: str, timeout: float = 2.0) -> DetectorSnapshot:
    """GET ``url`` and parse it.

    Raises:
        ScrapeError: Connection refused, timeout or an HTTP error.
    """
    return parse_snapshot(fetch_metrics(url, timeout))


def scrape_value(port: int, name: str, host: str = "127.0.0.1") -> float | None:
    """One unlabelled sample of a local detector's /metrics, None when not served (yet).

    For waits in tests and benchmarks: a refused connection only means "not yet".
    """
    try:
        text = fetch_metrics(f"http://{host}:{port}/metrics")
    except ScrapeError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None
