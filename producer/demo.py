"""``ecg-demo`` (``make demo``): the whole pipeline end to end on one machine.

Starts the embedded Tansu broker unless bootstrap servers are given (flag or
``KAFKA_BOOTSTRAP_SERVERS``), creates the topics, trains a model if there is no bundle
yet, starts ``ecg-detector`` (metrics on http://localhost:8000/metrics), replays the
ECG5000 test split, prints each alert as it arrives and ends with a summary. Everything
it started is stopped again, also on Ctrl-C (exit 130). Exit 0 on success.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from typing import Any

from kafka.errors import KafkaError
from pydantic import ValidationError

from producer.alerts import AlertWatcher
from producer.broker import BrokerError, EmbeddedBroker
from producer.delivery import Delivery, DeliveryError
from producer.demo_report import DemoReport, percentiles, report_lines
from producer.main import stop_on_signals
from producer.replay import finish, run_replay
from producer.scrape import DetectorSnapshot, ScrapeError
from producer.settings import DemoSettings, ReplaySettings
from producer.source import load_replay_source
from producer.subprocs import ChildError, DetectorProcess, run_to_completion, script
from producer.topics import TopicError, TopicSpec, ensure_topics
from training.data import DataError

EXIT_INTERRUPTED = 130


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived; everything started is being stopped."""


def say(text: str) -> None:
    """A step of the demo, on stdout."""
    print(f"[demo] {text}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``ecg-demo``; each also has an ``ECG_DEMO_*`` environment variable."""
    p = argparse.ArgumentParser(prog="ecg-demo", argument_default=argparse.SUPPRESS,
                                description="Run the ECG anomaly pipeline end to end.")
    p.add_argument("--bootstrap-servers", help="external Kafka (default: embedded Tansu, "
                   "or $KAFKA_BOOTSTRAP_SERVERS)")
    p.add_argument("--bundle", help="model bundle (trained when missing; artifacts/bundle)")
    p.add_argument("--train-config", help="config for ecg-train (configs/training.yaml)")
    p.add_argument("--run-dir", help="logs and summary.json go here (runs/demo)")
    p.add_argument("--metrics-host", help="detector /metrics bind address (127.0.0.1)")
    p.add_argument("--metrics-port", type=int, help="detector /metrics port (8000)")
    p.add_argument("--source", help="replay source: path, ucr, url, auto (auto)")
    p.add_argument("--split", choices=["all", "train", "val", "test"], help="(test)")
    p.add_argument("--streams", type=int, help="synthetic streams (8)")
    p.add_argument("--rate", type=float, help="replay beats/s, 0 = as fast as possible (200)")
    p.add_argument("--quiet", action="store_const", const=True, help="no line per alert")
    return p


def settings_from(argv: list[str] | None) -> DemoSettings:
    """Flags over ``ECG_DEMO_*`` over ``KAFKA_BOOTSTRAP_SERVERS`` over defaults."""
    parser = build_parser()
    flags: dict[str, Any] = vars(parser.parse_args(argv))
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if "bootstrap_servers" not in flags and external and not os.environ.get(
        "ECG_DEMO_BOOTSTRAP_SERVERS"
    ):
        flags["bootstrap_servers"] = external
    try:
        return DemoSettings(**flags)
    except ValidationError as exc:
        parser.error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                               for e in exc.errors()))


class Demo:
    """One demo run (see the module docstring).

    Args:
        settings: The demo settings.
        stop: Set by the signal handler to stop early.
    """

    def __init__(self, settings: DemoSettings, stop: threading.Event) -> None:
        self.s = settings
        self.stop = stop
        self.run_id = uuid.uuid4().hex[:6]
        self.run_dir = settings.run_dir
        self.detector_exit: int | None = None

    def check_stop(self) -> None:
        """Raise :class:`Interrupted` once a stop was requested."""
        if self.stop.is_set():
            raise Interrupted

    def run(self) -> int:
        """Run every step; stops what it started on the way out."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            servers, broker = self.start_broker(stack)
            self.create_topics(servers)
            self.ensure_bundle()
            self.check_stop()
            prefix = f"demo-{self.run_id}"
            watcher = AlertWatcher(servers, self.s.alerts_topic, prefix,
                                   None if self.s.quiet else sys.stdout).start()
            stack.callback(watcher.stop)
            detector = self.start_detector(servers, stack)
            base = detector.wait_ready(self.s.ready_timeout_s, self.stop)
            pace = f"{self.s.rate:g} beats/s" if self.s.rate else "full speed"
            say(f"detector ready (model {base.model_version}); replaying the ECG5000 "
                f"{self.s.split} split over {self.s.streams} streams at {pace}")
            report = self.replay_and_measure(servers, prefix, detector, watcher, base)
            report.broker = broker
            self.detector_exit = detector.stop()
            report.detector_exit = self.detector_exit
        print("\n".join(report_lines(report)), flush=True)
        (self.run_dir / "summary.json").write_text(json.dumps(report.as_dict(), indent=2))
        ok = report.beats_failed == 0 and report.detector_exit == 0
        return 0 if ok else 1

    def start_broker(self, stack: contextlib.ExitStack) -> tuple[str, str]:
        """The external cluster, or an embedded Tansu stopped when the demo ends."""
        if self.s.bootstrap_servers:
            say(f"using Kafka at {self.s.bootstrap_servers}")
            return self.s.bootstrap_servers, f"external {self.s.bootstrap_servers}"
        broker = EmbeddedBroker(log_path=self.run_dir / "tansu.log", own_session=True).start()
        stack.callback(broker.stop)
        say(f"started the embedded Tansu broker on {broker.bootstrap_servers}")
        return broker.bootstrap_servers, f"embedded Tansu {broker.bootstrap_servers}"

    def create_topics(self, servers: str) -> None:
        """Beats (partitioned), alerts and dead letters."""
        s = self.s
        counts = ensure_topics(servers, [
            TopicSpec(s.beats_topic, s.partitions, s.replication_factor),
            TopicSpec(s.alerts_topic, s.partitions, s.replication_factor),
            TopicSpec(s.dlq_topic, 1, s.replication_factor),
        ])
        say("topics: " + ", ".join(f"{n} ({c} partitions)" for n, c in counts.items()))

    def ensure_bundle(self) -> None:
        """Train a model with ``ecg-train`` when the bundle does not exist yet."""
        bundle = self.s.bundle
        if (bundle / "bundle.json").is_file():
            say(f"model bundle: {bundle}")
            return
        if bundle.name != "bundle":
            raise ChildError(f"no bundle at {bundle} (ecg-train writes OUT/bundle)")
        cmd = [script("ecg-train"), "--out", str(bundle.parent)]
        if self.s.train_config.is_file():
            cmd[1:1] = ["--config", str(self.s.train_config)]
        say(f"no model yet: training one ({' '.join(cmd)}); this takes a few minutes, "
            f"log in {self.run_dir / 'train.log'}")
        status = run_to_completion(cmd, self.run_dir / "train.log", self.stop)
        self.check_stop()
        if status != 0 or not (bundle / "bundle.json").is_file():
            raise ChildError(f"training failed (status {status}); see {self.run_dir}/train.log")
        say(f"trained: {bundle}")

    def start_detector(self, servers: str, stack: contextlib.ExitStack) -> DetectorProcess:
        """Start ``ecg-detector`` as a child; it is stopped (SIGTERM) when the demo ends."""
        s = self.s
        with socket.socket() as sock:
            # As the detector's HTTP server does: a port in TIME_WAIT is free to listen on.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((s.metrics_host, s.metrics_port))
            except OSError:
                raise ChildError(f"port {s.metrics_port} is in use; pass --metrics-port") from None
        args = [
            "--bundle", str(s.bundle), "--bootstrap-servers", servers,
            "--topic", s.beats_topic, "--alerts-topic", s.alerts_topic, "--dlq-topic",
            s.dlq_topic, "--group", f"ecg-demo-{self.run_id}", "--auto-offset-reset", "earliest",
            "--metrics-host", s.metrics_host, "--metrics-port", str(s.metrics_port),
            "--session-timeout-ms", "6000", "--heartbeat-interval-ms", "1000",
        ]
        url = f"http://{s.metrics_host}:{s.metrics_port}/metrics"
        detector = DetectorProcess(args, url, self.run_dir / "detector.log").start()
        stack.callback(detector.stop)
        say(f"started ecg-detector; metrics on {url} (log {detector.log_path})")
        return detector

    def replay_and_measure(self, servers: str, prefix: str, detector: DetectorProcess,
                           watcher: AlertWatcher, base: DetectorSnapshot) -> DemoReport:
        """Replay, wait until every beat is scored and every alert seen; measure."""
        s = self.s
        replay = ReplaySettings(
            bootstrap_servers=servers, topic=s.beats_topic, source=s.source, split=s.split,
            order="file", streams=s.streams, stream_prefix=prefix, rate=s.rate, loop=1,
            limit=None, labels=True, skip_bad=False, progress_interval_s=0,
        )
        source = load_replay_source(s.source, split=s.split)
        delivery = Delivery(replay)
        started = time.monotonic()
        result = finish(run_replay(source, replay, delivery, self.stop), delivery)
        self.check_stop()
        say(f"replayed {result.counts.acked} beats ({result.rate:,.0f} beats/s); waiting for "
            "the detector to score them all")
        delta = self.drain(detector, watcher, base, result.counts.acked)
        elapsed = time.monotonic() - started
        detection = [a.detected_at_ms - a.ts_ms for a in watcher.alerts]
        return DemoReport(
            broker="", model_version=delta.model_version, threshold=delta.threshold,
            source=source.source, split=s.split, streams=s.streams,
            requested_rate=result.requested_rate, beats_sent=result.counts.sent,
            beats_acked=result.counts.acked, beats_failed=result.counts.failed,
            replay_rate=result.rate, beats_scored=int(delta.beats_scored),
            alerts=int(delta.alerts),
            alerts_by_mode={m: int(v) for m, v in delta.alerts_by_mode.items()},
            alerts_received=watcher.count,
            confusion={o: int(v) for o, v in delta.confusion.items()},
            end_to_end_s=elapsed,
            detection_latency_ms=percentiles(detection),
            received_latency_ms=percentiles(watcher.received_latency_ms),
            logs=str(self.run_dir),
        )

    def drain(self, detector: DetectorProcess, watcher: AlertWatcher,
              base: DetectorSnapshot, expected: int) -> DetectorSnapshot:
        """Wait until the detector scored ``expected`` more beats and their alerts arrived."""
        deadline = time.monotonic() + self.s.drain_timeout_s
        while True:
            self.check_stop()
            with contextlib.suppress(ScrapeError):
                delta = detector.snapshot().minus(base)
                if delta.beats_scored >= expected and watcher.count >= delta.alerts:
                    return delta
            if time.monotonic() > deadline:
                raise ChildError(f"the detector did not score {expected} beats within "
                                 f"{self.s.drain_timeout_s:.0f} s (see {detector.log_path})")
            self.stop.wait(0.05)


def main(argv: list[str] | None = None) -> int:
    """Run ``ecg-demo``; returns the exit status."""
    settings = settings_from(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    stop = threading.Event()
    with stop_on_signals(stop):
        try:
            return Demo(settings, stop).run()
        except Interrupted:
            say("interrupted: stopped the replay, the detector and the broker")
            return EXIT_INTERRUPTED
        except (ChildError, TopicError, BrokerError, DeliveryError, DataError, KafkaError) as exc:
            if stop.is_set():
                say("interrupted: stopped everything that was started")
                return EXIT_INTERRUPTED
            print(f"ecg-demo: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
