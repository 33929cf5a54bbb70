"""Helpers of bench/bench_detector.py: beat payloads, topics, the detector command line."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from detector.contract import Beat, encode
from producer.topics import TopicSpec, ensure_topics

# Fast consumer-group joins (Tansu waits ~session_timeout/2 on a join).
GROUP_FLAGS = ["--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000"]


def beat_payloads(n: int, streams: int = 64, normal_only: bool = False
                  ) -> list[tuple[bytes, bytes]]:
    """n (key, value) beats following detector.contract.Beat, samples from ECG5000.

    All of ECG5000 in file order (42 % abnormal), or only its normal beats.
    """
    from training.data import load_dataset

    data = load_dataset()
    X = data.X[~data.anomaly] if normal_only else data.X
    base = 1_700_000_000_000
    out = []
    for i in range(n):
        beat = Beat(stream_id=f"s{i % streams}", seq=i // streams, ts_ms=base + i,
                    samples=np.asarray(X[i % len(X)]).tolist())
        out.append((beat.stream_id.encode(), encode(beat)))
    return out


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak RSS (MB) of a process from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            fields[key] = rest.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create a topic with the given partition count (and wait for its metadata)."""
    ensure_topics(bootstrap, [TopicSpec(name, partitions)])


def detector_cmd(bootstrap: str, bundle: Path, topic: str, prefix: str, port: int,
                 extra: list[str]) -> list[str]:
    """The ``ecg-detector`` command line for a bench run."""
    exe = str(Path(sys.executable).with_name("ecg-detector"))
    return [
        exe, "--bundle", str(bundle), "--bootstrap-servers", bootstrap, "--topic", topic,
        "--alerts-topic", f"{prefix}.alerts", "--dlq-topic", f"{prefix}.dlq",
        "--group", f"{prefix}-group", "--metrics-host", "127.0.0.1",
        "--metrics-port", str(port), "--log-level", "WARNING", *GROUP_FLAGS, *extra,
    ]


def alert_all_bundle(src: Path, dst: Path) -> Path:
    """A copy of a bundle whose tiny threshold makes every beat alert."""
    shutil.copytree(src, dst)
    manifest = json.loads((dst / "bundle.json").read_text())
    manifest["threshold"]["value"] = 1e-12
    manifest["model_version"] = manifest["model_version"] + "-alert-all"
    (dst / "bundle.json").write_text(json.dumps(manifest))
    return dst
