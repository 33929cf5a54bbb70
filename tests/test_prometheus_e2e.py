"""End to end: a real Prometheus scrapes two real detector replicas (one consumer
group) while ecg-replay produces labelled ECG5000 test-split beats, plus a few invalid
records. Then every PromQL expression of every dashboard panel and every alert rule is
evaluated through Prometheus's HTTP API: each must parse, each panel must return data,
every rule must evaluate with health "ok" in the running server. Finally one replica's
bundle is broken and the other replica is stopped, and their alerts go pending.

Grafana is not installable here; this is how the dashboard is checked.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaProducer

from producer.broker import free_port
from producer.topics import TopicSpec, ensure_topics
from tests.conftest import FAST_GROUP, require_tool
from tests.test_dashboard import (
    dashboard_queries,
    grafana_to_promql,
    load_dashboard,
    variable_selectors,
)

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "configs" / "prometheus" / "rules.yml"
COMPOSE_PROMETHEUS = ROOT / "configs" / "prometheus" / "prometheus.yml"
BIN = Path(sys.executable).parent
JOB = "ecg-detector"  # the job name configs/prometheus/rules.yml selects
BEATS = 600  # labelled beats of the ECG5000 test split to replay
REPLICAS = 2
PARTITIONS = 3
INVALID = {"not_json": [b"{not json"] * 4, "wrong_length": [b'{"v":1,"stream_id":"x",'
           b'"seq":0,"ts_ms":1,"samples":[1.0,2.0]}'] * 3}

pytestmark = [pytest.mark.integration, pytest.mark.tool, pytest.mark.timeout(240)]


def wait_for(what: str, check: Callable[[], Any], timeout: float,
              alive: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> Any:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            tail = log.read_text()[-3000:] if log else ""
            pytest.fail(f"{what}: process exited with {alive.returncode}\n{tail}")
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tail}")


def http_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PrometheusAPI:
    """The HTTP API of the Prometheus server under test."""

    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **params: str) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        try:
            return http_json(f"{self.base}{path}?{query}")
        except urllib.error.HTTPError as exc:  # 400 = bad query: keep Prometheus's answer
            return dict(json.load(exc))

    def query(self, promql: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=promql)

    def value(self, promql: str) -> float | None:
        result = self.query(promql)["data"]["result"]
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
def topics(bootstrap_servers: str, unique: str) -> dict[str, str]:
    names = {"beats": f"e2e-beats-{unique}", "alerts": f"e2e-alerts-{unique}",
             "dlq": f"e2e-dlq-{unique}"}
    ensure_topics(bootstrap_servers, [TopicSpec(names["beats"], PARTITIONS),
                                      TopicSpec(names["alerts"], 1), TopicSpec(names["dlq"], 1)])
    return names


@dataclass
class Replica:
    """One running ``ecg-detector`` process and what the test needs to reach it."""

    proc: subprocess.Popen[bytes]
    address: str  # metrics host:port, Prometheus's instance label
    bundle: Path  # its own copy, so that breaking it affects this replica only


def start_detector(bootstrap: str, bundle: Path, topics: dict[str, str], group: str,
                   log: Path) -> Replica:
    """Start one ``ecg-detector`` replica and wait for its /metrics."""
    port = free_port()
    cmd = [str(BIN / "ecg-detector"), "--bundle", str(bundle),
           "--bootstrap-servers", bootstrap, "--topic", topics["beats"],
           "--alerts-topic", topics["alerts"], "--dlq-topic", topics["dlq"],
           "--group", group, "--metrics-host", "127.0.0.1",
           "--metrics-port", str(port), "--poll-timeout-ms", "100",
           "--session-timeout-ms", str(FAST_GROUP["session_timeout_ms"]),
           "--heartbeat-interval-ms", str(FAST_GROUP["heartbeat_interval_ms"]),
           "--reload-interval-s", "0.5", "--timeout", "200"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    wait_for(f"{log.stem}'s /metrics", lambda: urllib.request.urlopen(
        f"http://127.0.0.1:{port}/metrics", timeout=2).status == 200, 60, proc, log)
    return Replica(proc, f"127.0.0.1:{port}", bundle)


@pytest.fixture
def replicas(bootstrap_servers: str, trained_bundle: Path, topics: dict[str, str],
             unique: str, tmp_path: Path) -> Iterator[list[Replica]]:
    """Two detector replicas in one consumer group, each serving its own bundle copy."""
    started: list[Replica] = []
    try:
        for k in range(REPLICAS):
            bundle = shutil.copytree(trained_bundle, tmp_path / f"bundle-{k}")
            started.append(start_detector(bootstrap_servers, bundle, topics,
                                          f"e2e-{unique}", tmp_path / f"detector-{k}.log"))
        yield started
    finally:
        for replica in started:
            stop(replica.proc)


def scrape_config(addresses: list[str]) -> dict[str, Any]:
    """The compose file's detector job, with static targets instead of Docker's DNS.

    Prometheus's DNS discovery asks the resolv.conf nameservers directly (not
    /etc/hosts), and no nameserver here knows a compose service name; the DNS part is
    checked by promtool (tests/test_prometheus_config.py), the rest of the job is used.
    """
    config = yaml.safe_load(COMPOSE_PROMETHEUS.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB]
    job.pop("dns_sd_configs")
    job["static_configs"] = [{"targets": addresses}]
    return dict(job)


@pytest.fixture
def prometheus(replicas: list[Replica], tmp_path: Path) -> Iterator[PrometheusAPI]:
    """The real Prometheus server scraping every replica each second, with our rules."""
    binary = require_tool("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [scrape_config([r.address for r in replicas])],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for("Prometheus ready", lambda: urllib.request.urlopen(
            f"{base}/-/ready", timeout=2).status == 200, 30, proc, log)
        yield PrometheusAPI(base)
    finally:
        stop(proc, signal.SIGTERM)


def replay_beats(bootstrap: str, topic: str) -> None:
    """Labelled ECG5000 test-split beats through the real ``ecg-replay``, then bad records."""
    result = subprocess.run(
        [str(BIN / "ecg-replay"), "--bootstrap-servers", bootstrap, "--topic", topic,
         "--source", "auto", "--split", "test", "--order", "shuffle", "--rate", "150",
         "--limit", str(BEATS), "--streams", "24", "--progress-interval", "0"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for payloads in INVALID.values():
        for payload in payloads:
            producer.send(topic, key=b"bad", value=payload).get(timeout=30)
    producer.close()


def test_dashboard_and_rules_evaluate_against_live_replicas(
    prometheus: PrometheusAPI, replicas: list[Replica], bootstrap_servers: str,
    topics: dict[str, str],
) -> None:
    # Replay only once the group is stable (every replica owns a partition), so that no
    # rebalance re-delivers a batch and the counts below are exact.
    owners = f"count(ecg_detector_assigned_partitions{{job=\"{JOB}\"}} > 0)"
    owned = f"sum(ecg_detector_assigned_partitions{{job=\"{JOB}\"}})"
    wait_for("every replica to own a partition", lambda: prometheus.value(owners) == REPLICAS
             and prometheus.value(owned) == PARTITIONS, 60)
    replay_beats(bootstrap_servers, topics["beats"])
    total = BEATS + sum(map(len, INVALID.values()))
    consumed = f'sum(ecg_detector_beats_consumed_total{{job="{JOB}"}})'
    wait_for(f"Prometheus to see {total} consumed records",
             lambda: (prometheus.value(consumed) or 0) >= total, 90)
    time.sleep(3)  # a few more scrapes, so that every rate window holds samples

    # The numbers Prometheus scraped are the numbers produced, split over both replicas.
    assert prometheus.value(f'sum(ecg_detector_beats_scored_total{{job="{JOB}"}})') == BEATS
    assert prometheus.value(f'sum(ecg_detector_labelled_beats_total{{job="{JOB}"}})') == BEATS
    assert prometheus.value(f'count(ecg_detector_beats_scored_total{{job="{JOB}"}} > 0)') == 2
    for reason, payloads in INVALID.items():
        got = prometheus.value(f'sum(ecg_detector_invalid_beats_total{{reason="{reason}"}})')
        assert got == len(payloads), reason

    check_dashboard_queries(prometheus)
    check_dashboard_variables(prometheus, [r.address for r in replicas])
    check_rules(prometheus)
    report_headline_figures(prometheus)
    check_failures_trip_their_alerts(prometheus, replicas)


def check_dashboard_queries(prometheus: PrometheusAPI) -> None:
    """Every panel query parses and returns at least one series."""
    problems = []
    queries = dashboard_queries(load_dashboard())
    for where, expr in queries:
        answer = prometheus.query(grafana_to_promql(expr))
        if answer["status"] != "success":
            problems.append(f"{where}: {answer.get('error')}")
        elif not answer["data"]["result"]:
            problems.append(f"{where}: no data for {expr}")
    assert not problems, "\n".join(problems)
    assert len(queries) >= 20


def check_dashboard_variables(prometheus: PrometheusAPI, replicas: list[str]) -> None:
    """Every template variable's label_values() lists the live job and instance."""
    values = {}
    for name, (selector, label) in variable_selectors(load_dashboard()).items():
        answer = prometheus.get(f"/api/v1/label/{label}/values",
                                **{"match[]": grafana_to_promql(selector)})
        assert answer["status"] == "success", answer
        values[name] = answer["data"]
    assert values == {"job": [JOB], "instance": sorted(replicas)}


def check_rules(prometheus: PrometheusAPI) -> None:
    """Every rule expression parses, and the server evaluates every rule without error."""
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    for rule in rules:
        answer = prometheus.query(rule["expr"])
        assert answer["status"] == "success", f"{rule['alert']}: {answer.get('error')}"

    def evaluated() -> list[dict[str, Any]] | None:
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        loaded = [r for g in groups for r in g["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001") for r in loaded)
        return loaded if done and len(loaded) == len(rules) else None

    loaded = wait_for("every rule evaluated", evaluated, 20)
    unhealthy = {r["name"]: r.get("lastError") for r in loaded if r["health"] != "ok"}
    assert not unhealthy
    # A healthy detector that just scored every beat raises none of the alerts (each rule
    # with "for:" could at most be pending; DetectorDown must not even be pending).
    firing = {r["name"] for r in loaded if r["state"] == "firing"}
    assert not firing
    down = next(r for r in loaded if r["name"] == "DetectorDown")
    assert down["state"] == "inactive"


def report_headline_figures(prometheus: PrometheusAPI) -> None:
    """Print what the dashboard shows for this run (visible with ``pytest -s``)."""
    sel = f'job="{JOB}"'
    figures = {
        "beats scored": f"sum(ecg_detector_beats_scored_total{{{sel}}})",
        "anomalous": f"sum(ecg_detector_beats_anomalous_total{{{sel}}})",
        "alerts published": f"sum(ecg_detector_alerts_published_total{{{sel}}})",
        "precision": f'sum(ecg_detector_labelled_beats_total{{{sel},outcome="tp"}}) / '
                     f'sum(ecg_detector_labelled_beats_total{{{sel},outcome=~"tp|fp"}})',
        "recall": f'sum(ecg_detector_labelled_beats_total{{{sel},outcome="tp"}}) / '
                  f'sum(ecg_detector_labelled_beats_total{{{sel},outcome=~"tp|fn"}})',
        "beat latency p99 (s)": "histogram_quantile(0.99, sum by (le) "
                                f"(ecg_detector_beat_latency_seconds_bucket{{{sel}}}))",
    }
    for name, promql in figures.items():
        print(f"e2e {name}: {prometheus.value(promql)}")


def alert_instances(prometheus: PrometheusAPI, alert: str) -> set[str]:
    """Instances for which the running server holds ``alert`` (pending or firing)."""
    groups = prometheus.get("/api/v1/rules", type="alert")["data"]["groups"]
    rule = next(r for g in groups for r in g["rules"] if r["name"] == alert)
    return {a["labels"].get("instance", "") for a in rule["alerts"]}


def check_failures_trip_their_alerts(prometheus: PrometheusAPI,
                                     replicas: list[Replica]) -> None:
    """Break one replica's bundle and stop the other: their alerts go pending in the
    real rule manager (they would fire after their ``for:``), for those instances only."""
    broken, stopped = replicas
    (broken.bundle / "bundle.json").write_text("{ not a manifest")
    stop(stopped.proc)
    wait_for("ModelReloadFailed pending for the broken replica",
             lambda: alert_instances(prometheus, "ModelReloadFailed") == {broken.address}, 30)
    wait_for("DetectorDown pending for the stopped replica",
             lambda: alert_instances(prometheus, "DetectorDown") == {stopped.address}, 30)
    assert prometheus.value(f'up{{instance="{broken.address}"}}') == 1
