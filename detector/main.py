"""``ecg-detector``: the command line entry point.

Builds the settings (flags > env ``ECG_DETECTOR_*`` > ``--config`` YAML > defaults),
loads the bundle, serves ``/metrics``, installs SIGTERM/SIGINT handlers and runs the
loop. Exit codes: 0 clean stop, 1 stopped with a batch that could not be published
(it is redelivered to the next consumer), 2 bad settings or bundle, 3 Kafka unreachable
at start-up.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, start_http_server

from detector.bundle import BundleError, load_bundle
from detector.kafka_io import make_consumer, make_producer
from detector.kafka_security import add_security_flags
from detector.metrics import DetectorMetrics
from detector.publisher import Publisher
from detector.reload import ModelReloader
from detector.scoring import BundleScorer
from detector.service import DetectorService
from detector.settings import ENV_PREFIX, DetectorSettings, SettingsError, load_settings

log = logging.getLogger("detector")

# (flag, type, help); the setting is the flag's name with "_" for "-".
FLAGS: tuple[tuple[str, Any, str], ...] = (
    ("--bundle", str, "model bundle directory"),
    ("--bootstrap-servers", str, "Kafka bootstrap servers, host:port[,host:port]"),
    ("--alerts-bootstrap-servers", str, "cluster for alerts/DLQ (default: same)"),
    ("--topic", str, "beats topic (ecg.beats)"),
    ("--alerts-topic", str, "alerts topic (ecg.alerts)"),
    ("--dlq-topic", str, "dead-letter topic (ecg.beats.dlq)"),
    ("--group", str, "consumer group (ecg-detector)"),
    ("--auto-offset-reset", str, "earliest|latest for a group without offsets"),
    ("--max-batch", int, "records per poll/batch (500)"),
    ("--poll-timeout-ms", int, "poll wait (200)"),
    ("--session-timeout-ms", int, "consumer group session timeout"),
    ("--heartbeat-interval-ms", int, "consumer group heartbeat interval"),
    ("--policy", str, "beat|episode"),
    ("--episode-k", int, "episode: anomalous beats among the last n"),
    ("--episode-n", int, "episode: window length in beats"),
    ("--episode-cooldown", int, "episode: beats without alerts after an alert"),
    ("--metrics-host", str, "/metrics bind address (0.0.0.0)"),
    ("--metrics-port", int, "/metrics port (8000; 0 = off)"),
    ("--max-beats", int, "stop after N records are processed and committed"),
    ("--timeout", float, "stop after S seconds in total"),
    ("--idle-timeout", float, "stop after S seconds without a record"),
    ("--reload-interval-s", float, "bundle change check period (5)"),
    ("--progress-interval-s", float, "progress log period (30)"),
    ("--log-level", str, "DEBUG|INFO|WARNING|ERROR"),
)


def parse_args(argv: list[str] | None) -> dict[str, Any]:
    """Parse flags into setting overrides (flags not given are absent)."""
    parser = argparse.ArgumentParser(
        prog="ecg-detector", description="Score ECG beats from Kafka and publish alerts.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", dest="config_file", help="YAML settings file")
    for flag, kind, text in FLAGS:
        parser.add_argument(flag, type=kind, help=text)
    add_security_flags(parser, ENV_PREFIX)
    return vars(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    """Run the detector; returns the process exit code."""
    try:
        settings = load_settings(**parse_args(argv))
    except SettingsError as exc:
        print(f"ecg-detector: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        logging.getLogger("kafka").setLevel(logging.WARNING)  # connection chatter
    return run(settings)


def build_service(settings: DetectorSettings, metrics: DetectorMetrics) -> DetectorService:
    """Load the bundle and connect the consumer: the service, ready to ``run()``.

    Raises:
        BundleError: The bundle cannot be served.
        KafkaError: The brokers cannot be reached.
    """
    bundle = load_bundle(settings.bundle)
    reloader = ModelReloader(settings.bundle, BundleScorer(bundle), metrics,
                             settings.reload_interval_s)
    consumer = make_consumer(settings)
    publisher = Publisher(lambda: make_producer(settings),
                          ack_timeout_s=settings.delivery_timeout_ms / 1000)
    log.info("serving model %s (threshold %.6g) on %s, group %s, policy %s",
             bundle.version, bundle.threshold, settings.topic, settings.group, settings.policy)
    return DetectorService(settings, consumer, publisher, reloader, metrics)


def run(settings: DetectorSettings) -> int:
    """Serve /metrics, install signal handlers and run until stopped; returns the exit code."""
    metrics = DetectorMetrics(CollectorRegistry())
    try:
        service = build_service(settings, metrics)
    except BundleError as exc:
        log.error("cannot serve: %s", exc)
        return 2
    except KafkaError as exc:
        log.error("cannot reach Kafka at %s: %s", settings.bootstrap_servers, exc)
        return 3
    server = None
    if settings.metrics_port:
        server, _thread = start_http_server(settings.metrics_port, settings.metrics_host,
                                            metrics.registry)
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host,
                 server.server_address[1])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: _on_signal(service, signum))
    try:
        return service.run()
    finally:
        if server is not None:
            server.shutdown()


def _on_signal(service: Any, signum: int) -> None:
    log.info("received %s: finishing the current batch", signal.Signals(signum).name)
    service.stop()


if __name__ == "__main__":
    sys.exit(main())
