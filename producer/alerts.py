"""Watch ``ecg.alerts`` during the demo: print a compact line per alert, keep latencies.

The consumer is assigned all partitions directly (no consumer group, so no join wait)
and starts at the end of each partition, so only alerts of this run are seen; alerts of
other streams (an external cluster may carry them) are ignored by stream id prefix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TextIO

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from detector.contract import Alert

log = logging.getLogger(__name__)


def alert_line(alert: Alert) -> str:
    """``ALERT demo-003 seq 41  score 0.0412 > 0.0201  samples 60-80  label abnormal``."""
    label = f"  label {alert.label}" if alert.label else ""
    return (
        f"ALERT {alert.stream_id} seq {alert.seq:<4d} score {alert.score:.4f} > "
        f"{alert.threshold:.4f}  samples {alert.segment_start}-{alert.segment_end}{label}"
    )


class AlertWatcher:
    """A thread consuming the alerts topic.

    Args:
        bootstrap_servers: Kafka bootstrap servers.
        topic: Alerts topic.
        stream_prefix: Only alerts whose stream id starts with this are counted.
        out: Where alert lines go (None = not printed).
        now_ms: Wall clock in epoch ms (receive time).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        stream_prefix: str,
        out: TextIO | None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.topic = topic
        self.prefix = stream_prefix
        self.alerts: list[Alert] = []
        self.received_latency_ms: list[int] = []
        self.invalid = 0
        self._out = out
        self._now_ms = now_ms
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","), enable_auto_commit=False,
            client_id="ecg-demo-alerts", fetch_max_wait_ms=50,
        )
        partitions = self._consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise RuntimeError(f"alerts topic {topic!r} has no partitions")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, before any alert of this run exists
            self._consumer.position(tp)
        self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)

    def start(self) -> AlertWatcher:
        """Start consuming in the background."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            batches = self._consumer.poll(timeout_ms=200)
            received = self._now_ms()
            for records in batches.values():
                for record in records:
                    self._handle(record.value, received)

    def _handle(self, value: bytes | None, received_ms: int) -> None:
        try:
            alert = Alert.model_validate_json(value or b"")
        except ValidationError:
            self.invalid += 1
            return
        if not alert.stream_id.startswith(self.prefix):
            return
        self.alerts.append(alert)
        self.received_latency_ms.append(received_ms - alert.ts_ms)
        if self._out is not None:
            self._out.write(alert_line(alert) + "\n")
            self._out.flush()

    @property
    def count(self) -> int:
        """Alerts of this run seen so far."""
        return len(self.alerts)

    def stop(self) -> None:
        """Stop the thread and close the consumer."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._consumer.close()
