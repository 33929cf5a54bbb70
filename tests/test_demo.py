"""``ecg-demo`` (what ``make demo`` runs) end to end, and its clean stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from producer.broker import free_port
from producer.subprocs import script

pytestmark = pytest.mark.integration

DEMO_TIMEOUT_S = 180


def demo_cmd(bundle: Path, run_dir: Path, port: int, *extra: str) -> list[str]:
    return [script("ecg-demo"), "--bundle", str(bundle), "--run-dir", str(run_dir),
            "--metrics-port", str(port), *extra]


def running_with(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if text in cmdline and state != "Z" and int(entry.name) != os.getpid():
            pids.append(int(entry.name))
    return pids


def test_demo_runs_end_to_end_and_reports_1000_beats(trained_bundle: Path, tmp_path: Path) -> None:
    port = free_port()
    started = time.monotonic()
    proc = subprocess.run(demo_cmd(trained_bundle, tmp_path, port, "--rate", "500", "--quiet"),
                          capture_output=True, text=True, timeout=DEMO_TIMEOUT_S)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "beats scored      1000" in proc.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["beats_sent"] == summary["beats_acked"] == summary["beats_scored"] == 1000
    assert summary["beats_failed"] == 0 and summary["detector_exit"] == 0
    assert sum(summary["confusion"].values()) == 1000
    assert summary["alerts"] == summary["alerts_received"] > 0
    assert summary["precision"] > 0.8 and summary["recall"] > 0.8
    assert elapsed < DEMO_TIMEOUT_S
    # Everything it started is gone: the detector (by its metrics port) and the broker.
    assert running_with(f"--metrics-port {port}") == []
    broker = re.search(r"embedded Tansu (127\.0\.0\.1:\d+)", proc.stdout)
    if broker:
        assert running_with(f"tcp://{broker.group(1)}") == []


def test_ctrl_c_stops_replay_detector_and_broker(trained_bundle: Path, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(demo_cmd(trained_bundle, tmp_path, port, "--rate", "20"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "detector ready" in line or not line:
            break
    assert "detector ready" in lines[-1], "".join(lines)
    time.sleep(2)  # mid-replay: 1000 beats at 20/s take 50 s
    assert running_with(f"--metrics-port {port}") != []
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output[-3000:]
    assert "interrupted" in rest
    assert "Traceback" not in output
    assert running_with(f"--metrics-port {port}") == []
    broker = re.search(r"embedded Tansu broker on (127\.0\.0\.1:\d+)", output)
    if broker:
        assert running_with(f"tcp://{broker.group(1)}") == []


def test_demo_reports_a_busy_metrics_port(trained_bundle: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(demo_cmd(trained_bundle, tmp_path, port),
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"port {port} is in use" in proc.stderr
    assert "Traceback" not in proc.stderr

