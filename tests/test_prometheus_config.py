"""The Prometheus configuration of docker-compose.yml: valid for promtool, finds every
detector replica through Docker DNS on the detector's metrics port, loads the rules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[1]
PROM_DIR = ROOT / "configs" / "prometheus"
CONFIG = PROM_DIR / "prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"


def detector_job() -> dict[str, Any]:
    config = yaml.safe_load(CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    return jobs["ecg-detector"]


def compose_detector_flag(flag: str) -> str:
    command = yaml.safe_load(COMPOSE.read_text())["services"]["detector"]["command"]
    return str(command[command.index(flag) + 1])


@pytest.mark.tool
def test_promtool_check_config_finds_the_rule_file() -> None:
    result = subprocess.run(
        [require_tool("promtool"), "check", "config", str(CONFIG)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 1 rule files found" in output
    assert "SUCCESS: 8 rules found" in output


def test_rule_files_resolve_next_to_the_config() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == ["rules.yml"]
    assert (PROM_DIR / "rules.yml").is_file()


def test_every_detector_replica_is_discovered_on_the_metrics_port() -> None:
    job = detector_job()
    assert "static_configs" not in job
    (sd,) = job["dns_sd_configs"]
    # Docker's embedded DNS returns one A record per replica of the compose service.
    assert sd["names"] == ["detector"]
    assert sd["type"] == "A"
    assert sd["port"] == int(compose_detector_flag("--metrics-port"))
    assert compose_detector_flag("--metrics-host") == "0.0.0.0"


def test_rules_select_the_job_prometheus_scrapes() -> None:
    rules = (PROM_DIR / "rules.yml").read_text()
    assert 'job="ecg-detector"' in rules
    assert detector_job()["job_name"] == "ecg-detector"


def test_compose_mounts_this_directory_as_the_config() -> None:
    prometheus = yaml.safe_load(COMPOSE.read_text())["services"]["prometheus"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in prometheus["volumes"]
                  if v.startswith("./"))
    target = mounts["./configs/prometheus"]
    assert f"--config.file={target}/prometheus.yml" in prometheus["command"]
