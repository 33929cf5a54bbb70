"""Benchmark of the replay producer against the local broker.

1. Throughput: ``run_replay`` as fast as possible (stamp + encode + send + acks) versus two
   bare kafka-python loops sending the same pre-encoded bytes with the same producer
   settings: the plain one (``send(topic, value, key=key)``, the client hashes every key)
   and the client's floor (the partition computed once per key, as the replay does, and
   nothing else per record). Measured in the same run, alternating (the order rotates
   each repetition), median of ``--repeats``; the load average is recorded because the
   machine is shared.
2. Pacing accuracy: ``--pace-rate`` beats/s for ``--pace-seconds`` s; the achieved rate
   from the replay's own clock and from the broker's record timestamps (CreateTime,
   read back with a consumer).

Usage: ``.venv/bin/python bench/bench_producer.py [--beats 60000] [--repeats 3]``
(an embedded Tansu broker is started unless ``KAFKA_BOOTSTRAP_SERVERS`` is set).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Iterator

from kafka import KafkaConsumer, KafkaProducer

from detector.contract import encode
from producer.broker import EmbeddedBroker
from producer.delivery import Delivery, partition_for, producer_config
from producer.replay import beat_indices, finish, run_replay
from producer.settings import ReplaySettings
from producer.source import ReplaySource, load_replay_source
from producer.streams import Streams
from producer.topics import TopicSpec, ensure_topics


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """External servers from the environment, or an embedded Tansu."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with EmbeddedBroker() as embedded:
        yield embedded.bootstrap_servers


def settings(servers: str, topic: str, **extra: object) -> ReplaySettings:
    """Replay settings of the benchmark (everything else at the CLI's defaults)."""
    return ReplaySettings(bootstrap_servers=servers, topic=topic, progress_interval_s=0,
                          **extra)  # type: ignore[arg-type]


def run_ours(source: ReplaySource, servers: str, topic: str, beats: int) -> float:
    """Beats/s of the replay pipeline, as fast as possible, until the last ack."""
    cfg = settings(servers, topic, rate=0, limit=beats, loop=0)
    delivery = Delivery(cfg)
    delivery.send("warmup", b"{}")  # connection + metadata, as the raw loop does
    delivery.flush()
    started = time.perf_counter()
    result = finish(run_replay(source, cfg, delivery, threading.Event()), delivery)
    elapsed = time.perf_counter() - started
    assert result.counts.acked == beats + 1 and result.counts.failed == 0, result.counts
    return beats / elapsed


def pre_encoded(source: ReplaySource, beats: int) -> list[tuple[bytes, bytes]]:
    """The same keys and values the replay would send."""
    streams = Streams("stream", 8, lambda: time.time_ns() // 1_000_000)
    out = []
    for index in beat_indices(len(source), loop=0, limit=beats):
        beat = streams.stamp(source.templates[index])
        out.append((beat.stream_id.encode(), encode(beat)))
    return out


def run_raw(records: list[tuple[bytes, bytes]], servers: str, topic: str) -> float:
    """Beats/s of a bare kafka-python send loop (default partitioner) with the same config."""
    producer = KafkaProducer(**producer_config(settings(servers, topic)))
    producer.send(topic, b"{}", key=b"warmup").get(timeout=30)
    started = time.perf_counter()
    for key, value in records:
        producer.send(topic, value=value, key=key)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return len(records) / elapsed


def run_floor(records: list[tuple[bytes, bytes]], servers: str, topic: str) -> float:
    """Beats/s of the bare loop with each key's partition computed once (the client's floor)."""
    producer = KafkaProducer(**producer_config(settings(servers, topic)))
    producer.send(topic, b"{}", key=b"warmup").get(timeout=30)
    known = list(producer.partitions_for(topic))
    partitions = {key: partition_for(key, known) for key in {key for key, _ in records}}
    started = time.perf_counter()
    for key, value in records:
        producer.send(topic, value=value, key=key, partition=partitions[key])
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    return len(records) / elapsed


def pacing(source: ReplaySource, servers: str, rate: float, seconds: float) -> dict[str, float]:
    """Achieved rate of a paced replay, by the replay's clock and by broker timestamps."""
    topic = f"bench-pace-{uuid.uuid4().hex[:8]}"
    ensure_topics(servers, [TopicSpec(topic, 4)])
    beats = int(rate * seconds)
    cfg = settings(servers, topic, rate=rate, limit=beats, loop=0)
    delivery = Delivery(cfg)
    result = finish(run_replay(source, cfg, delivery, threading.Event()), delivery)
    consumer = KafkaConsumer(topic, bootstrap_servers=servers, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    stamps = sorted(record.timestamp for record in consumer)
    consumer.close()
    assert len(stamps) == beats, (len(stamps), beats)
    broker_rate = (beats - 1) / ((stamps[-1] - stamps[0]) / 1000)
    return {
        "requested": rate, "beats": beats, "replay_clock_rate": result.rate,
        "replay_clock_error_pct": 100 * (result.rate - rate) / rate,
        "broker_timestamp_rate": broker_rate,
        "broker_timestamp_error_pct": 100 * (broker_rate - rate) / rate,
    }


def main() -> None:
    """Run both benchmarks and print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beats", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pace-rate", type=float, default=1000.0)
    parser.add_argument("--pace-seconds", type=float, default=10.0)
    parser.add_argument("--out", help="also write the JSON report here")
    args = parser.parse_args()
    source = load_replay_source("auto")
    records = pre_encoded(source, args.beats)
    results: dict[str, list[float]] = {"replay": [], "raw": [], "floor": []}
    load = [os.getloadavg()[0]]
    with broker() as servers:
        for repetition in range(args.repeats):
            names = list(results)  # rotated: no loop always runs first or last (broker growth)
            for name in names[repetition % 3:] + names[:repetition % 3]:
                topic = f"bench-{uuid.uuid4().hex[:8]}"
                ensure_topics(servers, [TopicSpec(topic, 4)])
                if name == "replay":
                    results[name].append(run_ours(source, servers, topic, args.beats))
                else:
                    runner = run_raw if name == "raw" else run_floor
                    results[name].append(runner(records, servers, topic))
        load.append(os.getloadavg()[0])
        pace = pacing(source, servers, args.pace_rate, args.pace_seconds)
    median = {name: statistics.median(values) for name, values in results.items()}
    report = {
        "beats_per_run": args.beats, "message_bytes": round(
            statistics.mean(len(v) for _, v in records[:1000])),
        "load_average_1min_before_after": load,
        "replay_beats_per_s": results["replay"],
        "raw_kafka_python_beats_per_s": results["raw"],
        "floor_kafka_python_beats_per_s": results["floor"],
        "replay_median": median["replay"], "raw_median": median["raw"],
        "floor_median": median["floor"],
        "ratio_replay_to_raw": median["replay"] / median["raw"],
        "ratio_replay_to_floor": median["replay"] / median["floor"],
        "pacing": pace,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
