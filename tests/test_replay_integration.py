"""``ecg-replay`` against the real broker: contract, ordering, bad input, failures, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from detector.contract import Beat, decode_beat
from producer.broker import EmbeddedBroker, free_port
from producer.main import main
from producer.topics import TopicSpec, ensure_topics
from tests.kafka_support import consume_all
from training.data import load_dataset


def bad_csv(tmp_path: Path) -> Path:
    """A seed-format CSV with 6 good rows and bad rows on lines 3 and 6."""
    data = load_dataset("ucr")
    lines = [",".join(map(repr, x)) + ",1" for x in data.X[:6].tolist()]
    lines.insert(2, "1.0,2.0,oops")
    lines.insert(5, ",".join(["0.5"] * 140) + ",7")
    path = tmp_path / "ecg.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.integration
def test_every_message_follows_the_contract_and_streams_are_ordered(
    bootstrap_servers: str, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = f"beats-{unique}"
    ensure_topics(bootstrap_servers, [TopicSpec(topic, 4)])
    status = main(["--bootstrap-servers", bootstrap_servers, "--topic", topic, "--source", "ucr",
                   "--split", "test", "--streams", "6", "--rate", "0",
                   "--progress-interval", "0"])
    assert status == 0
    assert "acked       1,000" in capsys.readouterr().out
    records = consume_all(bootstrap_servers, topic, 1000)
    assert len(records) == 1000
    by_stream: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    labels = 0
    for r in records:
        beat = decode_beat(r.value)
        assert isinstance(beat, Beat), beat
        assert r.key == beat.stream_id.encode()
        labels += beat.label is not None and beat.beat_class is not None
        by_stream[beat.stream_id].append((r.partition, r.offset, beat.seq))
    assert labels == 1000
    assert len(by_stream) == 6
    for entries in by_stream.values():
        assert len({p for p, _, _ in entries}) == 1  # one stream, one partition
        in_log_order = [seq for _, _, seq in sorted(entries)]
        assert in_log_order == list(range(len(entries)))  # gap-free, ordered
    assert sum(len(e) for e in by_stream.values()) == 1000


@pytest.mark.integration
def test_no_labels_and_loop_and_limit(bootstrap_servers: str, unique: str) -> None:
    topic = f"beats-{unique}"
    ensure_topics(bootstrap_servers, [TopicSpec(topic, 2)])
    status = main(["--bootstrap-servers", bootstrap_servers, "--topic", topic, "--source", "ucr",
                   "--split", "val", "--no-labels", "--loop", "0", "--limit", "1500",
                   "--order", "shuffle", "--seed", "3", "--as-fast-as-possible",
                   "--progress-interval", "0"])
    assert status == 0
    records = consume_all(bootstrap_servers, topic, 1500)
    assert len(records) == 1500  # 1000 val beats, then 500 more of a second pass
    beats = [decode_beat(r.value) for r in records]
    assert all(isinstance(b, Beat) and b.label is None and b.beat_class is None for b in beats)


def test_bad_row_stops_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bad_csv(tmp_path)
    status = main(["--source", str(path), "--bootstrap-servers", "127.0.0.1:1"])
    err = capsys.readouterr().err
    assert status == 2
    assert f"bad input: {path}:3: expected 141 columns, found 3" in err
    assert "Traceback" not in err


def test_bad_row_message_names_the_problem(tmp_path: Path) -> None:
    path = bad_csv(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "producer.main", "--source", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{path}:3: expected 141 columns, found 3" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
def test_skip_bad_skips_and_counts(
    bootstrap_servers: str, unique: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = f"beats-{unique}"
    ensure_topics(bootstrap_servers, [TopicSpec(topic, 1)])
    status = main(["--source", str(bad_csv(tmp_path)), "--skip-bad", "--rate", "0",
                   "--bootstrap-servers", bootstrap_servers, "--topic", topic,
                   "--progress-interval", "0"])
    captured = capsys.readouterr()
    assert status == 0
    assert "skipped bad rows 2" in captured.out
    assert ":6: unknown label 7" in caplog.text  # each skipped row is logged with its line
    beats = [decode_beat(r.value) for r in consume_all(bootstrap_servers, topic, 6)]
    assert len(beats) == 6 and all(isinstance(b, Beat) and b.label == "normal" for b in beats)


def test_unreachable_broker_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--bootstrap-servers", f"127.0.0.1:{free_port()}", "--limit", "5",
                   "--connect-timeout-ms", "1000", "--source", "ucr"])
    assert status == 1
    assert "cannot connect to Kafka" in capsys.readouterr().err


@pytest.mark.integration
def test_failed_sends_are_counted_and_exit_non_zero(tmp_path: Path) -> None:
    # A broker of its own, stopped mid-replay: pending sends fail after their deadline.
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        ensure_topics(broker.bootstrap_servers, [TopicSpec("beats", 2)])
        proc = subprocess.Popen(
            [sys.executable, "-m", "producer.main", "--bootstrap-servers",
             broker.bootstrap_servers, "--topic", "beats", "--source", "ucr", "--rate", "200",
             "--limit", "1000", "--delivery-timeout-ms", "2500", "--request-timeout-ms", "1000",
             "--max-block-ms", "1000", "--progress-interval", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(2.5)
        broker.stop()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    counts = dict(line.split(None, 1) for line in out.splitlines()[1:5])
    sent, acked, failed = (int(counts[k].split()[0].replace(",", ""))
                           for k in ("sent", "acked", "failed"))
    assert failed > 0 and acked > 0
    assert sent == acked + failed


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_flushes_and_loses_nothing(
    bootstrap_servers: str, unique: str, sig: signal.Signals
) -> None:
    topic = f"beats-{unique}"
    ensure_topics(bootstrap_servers, [TopicSpec(topic, 4)])
    # linger 2 s: at the signal there are unsent batches that only the final flush sends.
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer.main", "--bootstrap-servers", bootstrap_servers,
         "--topic", topic, "--source", "ucr", "--rate", "300", "--loop", "0",
         "--linger-ms", "2000", "--progress-interval", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stderr is not None
    started = ""
    while "replaying" not in started and proc.poll() is None:
        started = proc.stderr.readline()
    time.sleep(1.5)  # about 450 beats sent, most still lingering in the client's batches
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "replay summary (interrupted)" in out
    acked = int(next(line for line in out.splitlines() if line.strip().startswith("acked"))
                .split()[1].replace(",", ""))
    assert acked > 0
    assert "failed      0" in out
    assert len(consume_all(bootstrap_servers, topic, acked)) == acked
