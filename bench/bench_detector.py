"""Benchmark of ``ecg-detector`` against baselines measured in the same run.

Real embedded broker (Tansu), real bundle, the detector as a subprocess exactly as
deployed. Measures:

1. Throughput (beats/s) of the detector on N pre-produced beats, against the raw
   kafka-python consume rate of the same messages (target >= 0.5x).
2. A naive loop that consumes one message, decodes it and calls the Keras model once
   per message, on a subset (target: detector >= 100x its rate).
3. Latency from ``ts_ms`` to the alert, at 1,000 beats/s paced input (every beat
   alerts: a bundle copy with a tiny threshold), p50/p99.
4. Detector RSS (peak), CPU per beat and start-up time to the first scored beat.
5. An extra row, not the headline: two replicas in one consumer group (the product's
   scaling mechanism; on a 2-core machine each gets a core) against the same raw rate.

Usage:
    .venv/bin/python bench/bench_detector.py --bundle /path/to/bundle [--beats 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detector_support import (
    alert_all_bundle,
    beat_payloads,
    cpu_seconds,
    create_topic,
    detector_cmd,
    rss_mb,
)
from producer.broker import EmbeddedBroker, free_port
from producer.scrape import scrape_value

PARTITIONS = 4


def produce_all(bootstrap: str, topic: str, payloads: list[tuple[bytes, bytes]]) -> float:
    """Produce as fast as kafka-python can; returns seconds."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, batch_size=65536)
    start = time.perf_counter()
    for key, value in payloads:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    return time.perf_counter() - start


def raw_consume_rate(bootstrap: str, topic: str, n: int) -> float:
    """Messages/s of a bare kafka-python consumer reading the same topic, same batch size."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             max_poll_records=500, fetch_max_wait_ms=100)
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    consumer.seek_to_beginning()
    seen, first, start = 0, 0, 0.0
    while seen < n:
        got = sum(len(r) for r in consumer.poll(timeout_ms=500).values())
        if got and not seen:
            start, first = time.perf_counter(), got  # time from the first fetched batch on
        seen += got
    elapsed = time.perf_counter() - start
    consumer.close()
    return (seen - first) / elapsed


def run_detector(cmd: list[str], port: int, n: int) -> dict[str, float]:
    """Run the detector until it has processed n beats; time it through /metrics."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first_at = first_count = None
    alerts = last = cpu_first = cpu_last = cpu_last_at = 0.0
    peak = rss = 0.0
    while proc.poll() is None:
        value = scrape_value(port, "ecg_detector_beats_scored_total")
        alerts = scrape_value(port, "ecg_detector_beats_anomalous_total") or alerts
        last = value or last
        now = time.perf_counter()
        with contextlib.suppress(FileNotFoundError, KeyError, IndexError):
            if value and first_at is None:
                first_at, first_count, cpu_first = now, value, cpu_seconds(proc.pid)
            rss, peak = rss_mb(proc.pid)
            cpu_last, cpu_last_at = cpu_seconds(proc.pid), now
        time.sleep(0.1)  # scraping /metrics costs the detector CPU: not too often
    end = time.perf_counter()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0 or first_at is None or first_count is None:
        raise RuntimeError(f"detector failed ({proc.returncode}):\n{stderr[-3000:]}")
    return {
        "startup_to_first_scored_s": first_at - t0,
        "beats_per_s": (n - first_count) / (end - first_at),
        "rss_mb_last": rss,
        "rss_mb_peak": peak,
        "anomalous_fraction_seen": alerts / last if last else 0.0,
        "cpu_utilisation": (cpu_last - cpu_first) / max(1e-9, cpu_last_at - first_at),
        "cpu_us_per_beat": (cpu_last - cpu_first) / max(1.0, last - first_count) * 1e6,
    }


def run_replicas(cmds: list[tuple[list[str], int]], n: int) -> dict[str, float]:
    """Replicas in one group on a pre-filled topic: beats/s until all n are scored.

    Started together, they share the group's first generation (Tansu waits about
    session_timeout/2 for members), so each reads its own partitions from the start.
    """
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for cmd, _ in cmds]
    try:
        first_at = first_count = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = [scrape_value(port, "ecg_detector_beats_scored_total") or 0.0
                      for _, port in cmds]
            now = time.perf_counter()
            if sum(counts) and first_at is None:
                first_at, first_count = now, sum(counts)
            if sum(counts) >= n:
                break
            time.sleep(0.02)
        else:
            raise RuntimeError(f"replicas scored only {counts} of {n} beats")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
    assert first_at is not None and first_count is not None
    return {"replicas": float(len(cmds)), "beats_per_s": (n - first_count) / (now - first_at),
            "min_share": min(counts) / n}


def naive_keras_rate(bootstrap: str, topic: str, bundle: Path, n: int) -> float:
    """One message at a time: consume, decode, scale, one Keras call, decide."""
    import keras

    from detector.bundle import load_bundle
    from detector.contract import decode_beat

    loaded = load_bundle(bundle)
    model = keras.models.load_model(bundle / "model.keras")
    scaler, threshold = loaded.manifest.scaler, loaded.threshold
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             max_poll_records=1, fetch_max_wait_ms=100)
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    consumer.seek_to_beginning()
    model(np.zeros((1, 140), np.float32), training=False)  # build outside the timing
    done, start, flagged = 0, time.perf_counter(), 0
    while done < n:
        for records in consumer.poll(timeout_ms=500, max_records=1).values():
            for record in records:
                beat = decode_beat(record.value)
                x = scaler.transform(np.asarray([beat.samples]))  # type: ignore[union-attr]
                recon = np.asarray(model(x, training=False))
                flagged += float(np.mean((x - recon) ** 2)) > threshold
                done += 1
    elapsed = time.perf_counter() - start
    consumer.close()
    return done / elapsed


def paced_latency(bootstrap: str, cmd: list[str], port: int, topic: str, alerts_topic: str,
                  rate: int, seconds: float) -> dict[str, float]:
    """Produce at `rate` beats/s with ts_ms = send time; latency to alert receipt."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while (scrape_value(port, "ecg_detector_assigned_partitions") or 0) < PARTITIONS:
            if time.monotonic() > deadline:
                raise RuntimeError("detector was not assigned its partitions")
            time.sleep(0.05)
        received: list[tuple[float, dict[str, Any]]] = []
        total = int(rate * seconds)
        reader = threading.Thread(target=_read_alerts, args=(bootstrap, alerts_topic, total,
                                                             received), daemon=True)
        reader.start()
        time.sleep(1.0)  # let the reader get its assignment and position
        _paced_produce(bootstrap, topic, rate, total)
        reader.join(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    e2e = np.array([recv - a["ts_ms"] for recv, a in received])
    decided = np.array([a["detected_at_ms"] - a["ts_ms"] for _, a in received])
    return {
        "alerts": float(len(received)), "sent": float(total),
        "e2e_p50_ms": float(np.percentile(e2e, 50)), "e2e_p99_ms": float(np.percentile(e2e, 99)),
        "decide_p50_ms": float(np.percentile(decided, 50)),
        "decide_p99_ms": float(np.percentile(decided, 99)),
    }


def _read_alerts(bootstrap: str, topic: str, total: int,
                 out: list[tuple[float, dict[str, Any]]]) -> None:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, fetch_max_wait_ms=5)
    deadline = time.monotonic() + 90
    while len(out) < total and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=100).values():
            now = time.time() * 1000
            out.extend((now, json.loads(r.value)) for r in records)
    consumer.close()


def _paced_produce(bootstrap: str, topic: str, rate: int, total: int) -> None:
    from detector.contract import Beat, encode

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    samples = np.random.default_rng(0).normal(size=(256, 140)).tolist()
    tick, per_tick = 0.01, max(1, rate // 100)
    start = time.perf_counter()
    for i in range(0, total, per_tick):
        for j in range(i, min(total, i + per_tick)):
            beat = Beat(stream_id=f"s{j % 16}", seq=j, ts_ms=int(time.time() * 1000),
                        samples=samples[j % 256])
            producer.send(topic, key=beat.stream_id.encode(), value=encode(beat))
        delay = start + (i // per_tick + 1) * tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.flush()
    producer.close()


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print a JSON summary; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path,
                        default=Path(os.environ.get("ECG_TEST_BUNDLE", "artifacts/bundle")))
    parser.add_argument("--beats", type=int, default=50_000)
    parser.add_argument("--naive-beats", type=int, default=500)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"beats": args.beats}
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        bs = broker.bootstrap_servers
        create_topic(bs, "bench.beats", PARTITIONS)
        payloads = beat_payloads(args.beats)
        results["message_bytes"] = len(payloads[0][1])
        results["produce_s"] = produce_all(bs, "bench.beats", payloads)
        results["raw_consume_per_s"] = raw_consume_rate(bs, "bench.beats", args.beats)
        port = free_port()
        cmd = detector_cmd(bs, args.bundle, "bench.beats", "bench", port,
                           ["--max-beats", str(args.beats)])
        results["detector"] = run_detector(cmd, port, args.beats)
        rate = results["detector"]["beats_per_s"]
        results["ratio_vs_raw_consume"] = rate / results["raw_consume_per_s"]

        # Same measurement on normal beats only: few alerts to publish.
        create_topic(bs, "normal.beats", PARTITIONS)
        produce_all(bs, "normal.beats", beat_payloads(args.beats, normal_only=True))
        results["raw_consume_normal_per_s"] = raw_consume_rate(bs, "normal.beats", args.beats)
        port = free_port()
        cmd = detector_cmd(bs, args.bundle, "normal.beats", "normal", port,
                           ["--max-beats", str(args.beats)])
        results["detector_normal_only"] = run_detector(cmd, port, args.beats)
        results["ratio_normal_only_vs_raw_consume"] = (
            results["detector_normal_only"]["beats_per_s"] / results["raw_consume_normal_per_s"])

        # The product's own scaling: two replicas in one group (2 partitions each).
        ports = [free_port(), free_port()]
        results["two_replicas"] = run_replicas(
            [(detector_cmd(bs, args.bundle, "bench.beats", "pair", port, []), port)
             for port in ports], args.beats)
        results["two_replicas_ratio_vs_raw_consume"] = (
            results["two_replicas"]["beats_per_s"] / results["raw_consume_per_s"])

        every = alert_all_bundle(args.bundle, Path(tmp) / "all")
        create_topic(bs, "paced.beats", PARTITIONS)
        port = free_port()
        cmd = detector_cmd(bs, every, "paced.beats", "paced", port, ["--max-batch", "500"])
        results["latency_at_rate"] = args.rate
        results["latency"] = paced_latency(bs, cmd, port, "paced.beats", "paced.alerts",
                                           args.rate, args.seconds)

        results["naive_keras_per_s"] = naive_keras_rate(bs, "bench.beats", args.bundle,
                                                        args.naive_beats)
        results["naive_subset"] = args.naive_beats
        results["ratio_vs_naive_keras"] = rate / results["naive_keras_per_s"]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
