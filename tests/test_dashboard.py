"""The Grafana dashboard and its provisioning, checked statically.

Grafana is not installable here; tests/test_prometheus_e2e.py evaluates every query of
this dashboard against a real Prometheus scraping a real detector. The helpers below
(``dashboard_queries``, ``grafana_to_promql``) are shared with that test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.metrics_support import declared_series

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "configs" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ecg.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "ecg.yml"
COMPOSE = ROOT / "docker-compose.yml"

METRIC_RE = re.compile(r"\becg_detector_[a-z0-9_]+")
SELECTOR_RE = re.compile(r"\b(ecg_detector_[a-z0-9_]+|up)(\{[^}]*\})?")
VARIABLE_RE = re.compile(r"\$(?:\{)?(\w+)")
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range"}
# How the end-to-end test stands in for Grafana: all values selected, and an interval
# of several scrapes of its 1 s scrape interval.
E2E_SUBSTITUTIONS = {
    "$__rate_interval": "15s", "$__interval": "15s", "$__range": "1m",
    "$job": ".*", "$instance": ".*",
}


def load_dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every non-row panel, including panels nested in collapsed rows."""
    out = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(``panel title/refId``, PromQL as written in Grafana) for every panel target."""
    return [(f"{p['title']}/{t['refId']}", t["expr"]) for p in panels(dashboard)
            for t in p["targets"]]


def variable_selectors(dashboard: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Variable name -> (series selector, label) of its ``label_values(selector, label)``."""
    out = {}
    for var in dashboard["templating"]["list"]:
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
        assert match, f"variable {var['name']}: not a label_values() query: {query}"
        out[var["name"]] = (match.group(1), match.group(2))
    return out


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's variables with what Grafana would send for "All"."""
    for name in sorted(E2E_SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(name, E2E_SUBSTITUTIONS[name])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def test_every_panel_has_queries_and_a_unique_id() -> None:
    dashboard = load_dashboard()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        targets = panel["targets"]
        assert targets, f"panel {panel['title']!r} has no query"
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), f"{panel['title']}/{target['refId']}: empty expr"


def test_panels_fit_the_grid() -> None:
    for panel in load_dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_variable_is_defined_and_used() -> None:
    dashboard = load_dashboard()
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    assert defined == {"job", "instance"}
    exprs = [e for _, e in dashboard_queries(dashboard)]
    exprs += [sel for sel, _ in variable_selectors(dashboard).values()]
    used = {name for e in exprs for name in VARIABLE_RE.findall(e)}
    assert defined <= used, f"unused variables: {defined - used}"
    assert used - GRAFANA_BUILTINS <= defined, f"undefined variables: {used - defined}"


def test_every_selector_is_filtered_by_job_and_instance() -> None:
    for where, expr in dashboard_queries(load_dashboard()):
        for name, matchers in SELECTOR_RE.findall(expr):
            assert 'job=~"$job"' in matchers, f"{where}: {name} without $job"
            assert 'instance=~"$instance"' in matchers, f"{where}: {name} without $instance"


def test_queries_read_only_declared_metrics() -> None:
    declared = declared_series()
    dashboard = load_dashboard()
    exprs = [e for _, e in dashboard_queries(dashboard)]
    exprs += [sel for sel, _ in variable_selectors(dashboard).values()]
    for expr in exprs:
        unknown = set(METRIC_RE.findall(expr)) - declared
        assert not unknown, f"{expr}: undeclared {sorted(unknown)}"


def test_dashboard_covers_what_operators_watch() -> None:
    dashboard = load_dashboard()
    titles = " | ".join(p["title"].lower() for p in panels(dashboard))
    for topic in ("beats /s", "anomaly rate", "alerts", "score distribution", "latency",
                  "lag per partition", "dead letters by reason", "model version",
                  "threshold", "precision / recall", "per replica"):
        assert topic in titles, f"no panel about {topic!r}"
    queries = " ".join(e for _, e in dashboard_queries(dashboard))
    for metric in ("ecg_detector_anomaly_score_bucket", "ecg_detector_consumer_lag",
                   "ecg_detector_invalid_beats_total", "ecg_detector_labelled_beats_total",
                   "ecg_detector_model_info", "ecg_detector_model_threshold",
                   "ecg_detector_beat_latency_seconds_bucket",
                   "ecg_detector_alerts_published_total"):
        assert metric in queries, f"no query reads {metric}"
    heatmaps = [p for p in panels(dashboard) if p["type"] == "heatmap"]
    assert heatmaps and all(t.get("format") == "heatmap" for p in heatmaps for t in p["targets"])
    assert any("by (instance" in e for _, e in dashboard_queries(dashboard))


def test_grafana_to_promql_leaves_no_variable() -> None:
    for _, expr in dashboard_queries(load_dashboard()):
        promql = grafana_to_promql(expr)
        assert "$" not in promql
        assert "$__rate_interval" not in expr or "[15s]" in promql


def test_panels_use_the_provisioned_datasource() -> None:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    dashboard = load_dashboard()
    for panel in panels(dashboard):
        refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
        assert all(r == {"type": "prometheus", "uid": source["uid"]} for r in refs), panel["title"]
    for var in dashboard["templating"]["list"]:
        assert var["datasource"]["uid"] == source["uid"]


def test_compose_mounts_the_provisioning_where_the_provider_looks() -> None:
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        parts = volume.split(":")
        mounts[parts[0]] = parts[1]
    assert mounts["./configs/grafana/provisioning"] == "/etc/grafana/provisioning"
    (provider,) = yaml.safe_load(PROVIDERS.read_text())["providers"]
    assert mounts["./configs/grafana/dashboards"] == provider["options"]["path"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
