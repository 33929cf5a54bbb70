"""``ecg-replay``: replay recorded ECG beats into Kafka as synthetic live streams.

Exit status: 0 when every beat was acknowledged (also after a requested stop by
SIGINT/SIGTERM, which flushes first), 1 when any send failed or no broker was
reachable, 2 for bad input (a malformed row names file and line) or bad flags.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from pydantic import ValidationError

from detector.kafka_security import add_security_flags
from producer.delivery import Delivery, DeliveryError
from producer.progress import summary_lines
from producer.replay import finish, planned_total, run_replay
from producer.settings import ENV_PREFIX, ReplaySettings
from producer.source import load_replay_source
from training.data import DataError

EXIT_OK, EXIT_SEND_FAILED, EXIT_BAD_INPUT = 0, 1, 2
log = logging.getLogger("producer")


def build_parser() -> argparse.ArgumentParser:
    """The command line; every flag also has an ``ECG_REPLAY_*`` environment variable."""
    p = argparse.ArgumentParser(
        prog="ecg-replay", argument_default=argparse.SUPPRESS,
        description="Replay recorded ECG beats into Kafka as N synthetic live streams.",
    )
    p.add_argument("--bootstrap-servers", help="host:port[,host:port] (default localhost:9092)")
    p.add_argument("--topic", help="beats topic (default ecg.beats)")
    p.add_argument("--source", help="CSV/TSV path, ucr, url or auto (default auto)")
    p.add_argument("--split", choices=["all", "train", "val", "test"], help="default all")
    p.add_argument("--split-seed", type=int, help="seed of the training split (default 21)")
    p.add_argument("--order", choices=["file", "shuffle"], help="default file")
    p.add_argument("--seed", type=int, help="shuffle seed (default 0)")
    p.add_argument("--streams", type=int, help="synthetic streams (default 8)")
    p.add_argument("--stream-prefix", help="stream ids are PREFIX-000... (default stream)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, help="total beats/s; 0 = as fast as possible")
    pace.add_argument("--as-fast-as-possible", dest="rate", action="store_const", const=0.0,
                      help="same as --rate 0")
    pace.add_argument("--bpm", type=float, help="real time: beats/min per stream (default 75)")
    p.add_argument("--speed", type=float, help="speed factor on real time (default 1)")
    p.add_argument("--loop", type=int, help="passes over the data, 0 = forever (default 1)")
    p.add_argument("--limit", type=int, help="stop after N beats")
    p.add_argument("--no-labels", dest="labels", action="store_const", const=False,
                   help="strip label and beat_class")
    p.add_argument("--skip-bad", action="store_const", const=True,
                   help="skip and count malformed rows instead of stopping")
    p.add_argument("--progress-interval", dest="progress_interval_s", type=float,
                   help="seconds between progress lines, 0 = none (default 1)")
    p.add_argument("--linger-ms", type=int, help="producer linger (default 20)")
    p.add_argument("--batch-size", type=int, help="producer batch bytes (default 1 MiB)")
    p.add_argument("--delivery-timeout-ms", type=int, help="per-send deadline (default 30000)")
    p.add_argument("--request-timeout-ms", type=int, help="per-request deadline (default 10000)")
    p.add_argument("--max-block-ms", type=int, help="metadata wait (default 10000)")
    p.add_argument("--connect-timeout-ms", type=int, help="bootstrap deadline (default 30000)")
    add_security_flags(p, ENV_PREFIX)
    return p


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop.set()`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.warning(
            "%s: stopping after the current beat and flushing", signal.Signals(signum).name
        )
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def settings_from(argv: list[str] | None) -> ReplaySettings:
    """Parse flags over environment variables into the one settings model.

    Raises:
        SystemExit: Bad flags or values (status 2, message on stderr).
    """
    parser = build_parser()
    flags: dict[str, Any] = vars(parser.parse_args(argv))
    try:
        return ReplaySettings(**flags)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        parser.error(problems)


def main(argv: list[str] | None = None) -> int:
    """Run ``ecg-replay``; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # The client logs every refused connection; the replay reports failures itself.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    settings = settings_from(argv)
    try:
        source = load_replay_source(
            settings.source, split=settings.split, split_seed=settings.split_seed,
            order=settings.order, seed=settings.seed, labels=settings.labels,
            skip_bad=settings.skip_bad,
        )
    except DataError as exc:
        print(f"ecg-replay: bad input: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for error in source.skipped:
        log.warning("skipped bad row: %s", error)
    total = planned_total(len(source), loop=settings.loop, limit=settings.limit)
    log.info(
        "replaying %s beats from %s (split %s, %s order) to %s on %s: %s, %d streams",
        "unbounded" if total is None else total, source.source, settings.split,
        settings.order, settings.topic, settings.bootstrap_servers,
        settings.pacing_description(), settings.streams,
    )
    try:
        delivery = Delivery(settings)
    except DeliveryError as exc:
        print(f"ecg-replay: {exc}", file=sys.stderr)
        return EXIT_SEND_FAILED
    stop = threading.Event()
    with stop_on_signals(stop):
        try:
            result = run_replay(source, settings, delivery, stop)
        except DeliveryError as exc:
            print(f"ecg-replay: {exc}", file=sys.stderr)
            delivery.close()
            return EXIT_SEND_FAILED
        result = finish(result, delivery)
    print("\n".join(summary_lines(result)), flush=True)
    return EXIT_OK if result.ok else EXIT_SEND_FAILED


if __name__ == "__main__":
    sys.exit(main())
