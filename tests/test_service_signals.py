"""``ecg-detector`` as a process: SIGTERM / SIGKILL mid-stream, then a restart."""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from producer.broker import free_port
from producer.scrape import scrape_value
from tests.conftest import FAST_GROUP
from tests.detector_support import (
    alerts_of,
    committed,
    copy_bundle,
    create_topic,
    make_beats,
    produce_beats_at,
    read_topic,
    wait_until,
)
from training.data import load_dataset, split

pytestmark = pytest.mark.integration

BATCH = 20
DETECTOR = str(Path(sys.executable).with_name("ecg-detector"))


def detector(bootstrap: str, bundle: Path, unique: str, port: int, idle: float,
             log: Path) -> subprocess.Popen[bytes]:
    args = [
        DETECTOR, "--bundle", str(bundle), "--bootstrap-servers", bootstrap,
        "--topic", f"beats-{unique}", "--alerts-topic", f"alerts-{unique}",
        "--dlq-topic", f"dlq-{unique}", "--group", f"det-{unique}",
        "--metrics-host", "127.0.0.1", "--metrics-port", str(port),
        "--max-batch", str(BATCH), "--poll-timeout-ms", "100", "--idle-timeout", str(idle),
        "--session-timeout-ms", str(FAST_GROUP["session_timeout_ms"]),
        "--heartbeat-interval-ms", str(FAST_GROUP["heartbeat_interval_ms"]),
    ]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log.open("wb"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_signal_mid_stream_then_restart_loses_nothing(
    bootstrap_servers: str, unique: str, trained_bundle: Path, tmp_path: Path,
    sig: signal.Signals,
) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "b", threshold=1e-12, version="all")
    X = split(load_dataset())["test"].X
    beats = make_beats(np.concatenate([X] * 6), streams=10)
    topic = f"beats-{unique}"
    create_topic(bootstrap_servers, topic, partitions=2)
    where = produce_beats_at(bootstrap_servers, topic, beats)
    port = free_port()

    procs: list[subprocess.Popen[bytes]] = []
    try:
        first = detector(bootstrap_servers, bundle, unique, port, 60, tmp_path / "run1.log")
        procs.append(first)
        wait_until(lambda: (scrape_value(port, "ecg_detector_beats_scored_total") or 0) >= 200, 60,
                   "the first run to score beats")
        first.send_signal(sig)
        code = first.wait(timeout=30)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL), (
            tmp_path / "run1.log").read_text()[-2000:]
        after_first = committed(bootstrap_servers, f"det-{unique}", topic)
        done = sum(after_first.values())
        assert 0 < done < len(beats), "the signal must arrive mid-stream"

        second = detector(bootstrap_servers, bundle, unique, free_port(), 3,
                          tmp_path / "run2.log")
        procs.append(second)
        assert second.wait(timeout=90) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log2 = (tmp_path / "run2.log").read_text()
    high = collections.Counter(p for p, _ in where)
    assert committed(bootstrap_servers, f"det-{unique}", topic) == dict(high)

    alerts = alerts_of(read_topic(bootstrap_servers, f"alerts-{unique}", timeout_s=60))
    counts = collections.Counter((a["stream_id"], a["seq"]) for a in alerts)
    keys = [(b.stream_id, b.seq) for b in beats]
    assert set(counts) == set(keys), "every beat is scored and alerted at least once"
    duplicates = [i for i, key in enumerate(keys) if counts[key] > 1]
    records_second = int(re.findall(r"closing: records=(\d+)", log2)[-1])
    if sig == signal.SIGTERM:
        assert duplicates == [] and records_second == len(beats) - done
    else:
        # Only the batch in flight when the process died can be published twice.
        assert len(duplicates) <= BATCH
        assert all(where[i][1] >= after_first.get(where[i][0], 0) for i in duplicates)
        assert records_second == len(beats) - done
