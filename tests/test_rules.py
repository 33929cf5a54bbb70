"""Prometheus alert rules: promtool checks them, runs their unit tests, and the unit
tests are shown to catch a rule that never fires and a rule that always fires.

Also static contract checks: every alert the issue names exists with a summary, a
description and a severity, and every metric a rule reads is declared in
``detector/metrics.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool
from tests.metrics_support import declared_series

ROOT = Path(__file__).resolve().parents[1]
PROM_DIR = ROOT / "configs" / "prometheus"
RULES = PROM_DIR / "rules.yml"
RULES_TEST = PROM_DIR / "rules_test.yml"
ALERTS = (
    "DetectorDown", "NoBeatsScored", "ConsumerLagHigh", "StalledPartition",
    "AnomalyRateHigh", "DeadLetterRateHigh", "ScoringLatencyHigh", "ModelReloadFailed",
)
SEVERITIES = {"critical", "warning", "info"}
METRIC_RE = re.compile(r"\becg_detector_[a-z0-9_]+")


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of rules.yml, in file order."""
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60, check=False)


def test_every_named_alert_exists_once_with_annotations_and_severity() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert sorted(names) == sorted(ALERTS)
    for rule in rules:
        where = f"rules.yml alert {rule['alert']}"
        assert rule["labels"]["severity"] in SEVERITIES, where
        assert rule["annotations"]["summary"].strip(), where
        assert len(rule["annotations"]["description"].split()) >= 10, where


def test_rules_only_read_declared_metrics() -> None:
    declared = declared_series()
    for rule in alert_rules():
        used = set(METRIC_RE.findall(rule["expr"]))
        assert used <= declared, f"{rule['alert']} reads undeclared {sorted(used - declared)}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    doc = yaml.safe_load(RULES_TEST.read_text())
    assert doc["rule_files"] == ["rules.yml"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert fires == set(ALERTS)
    assert quiet == set(ALERTS)


@pytest.mark.tool
def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


@pytest.mark.tool
def test_promtool_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", RULES_TEST.name, cwd=PROM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _mutated(tmp_path: Path, alert: str, expr: str) -> Path:
    """A copy of rules.yml + rules_test.yml where ``alert`` has the expression ``expr``."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule["expr"] = expr
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(RULES_TEST, tmp_path / "rules_test.yml")
    return tmp_path


def _failed_evals(tmp_path: Path, alert: str, expr: str) -> tuple[list[str], str]:
    """Run promtool's rule tests with ``alert`` mutated to ``expr``; they must fail.

    Returns:
        The failure report's blocks (one per failed eval) of ``alert``, and promtool's
        stdout for assertion messages.
    """
    folder = _mutated(tmp_path, alert, expr)
    result = run_promtool("test", "rules", "rules_test.yml", cwd=folder)
    assert result.returncode != 0
    blocks = re.split(r"\n\s*name: ", result.stdout + result.stderr)[1:]
    return [b for b in blocks if f"alertname: {alert}," in b], result.stdout


@pytest.mark.tool
@pytest.mark.parametrize("alert", ALERTS)
def test_unit_tests_catch_a_rule_that_never_fires(tmp_path: Path, alert: str) -> None:
    failed, stdout = _failed_evals(tmp_path, alert, "vector(0) > 1")
    assert failed and all("got:[]" in b for b in failed), stdout


@pytest.mark.tool
@pytest.mark.parametrize("alert", ALERTS)
def test_unit_tests_catch_a_rule_that_always_fires(tmp_path: Path, alert: str) -> None:
    failed, stdout = _failed_evals(tmp_path, alert, "vector(1)")
    assert any("exp:[]" in b for b in failed), stdout
