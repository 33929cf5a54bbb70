"""Publishing a batch's alerts and dead letters, and waiting for every acknowledgement.

A failure of any record fails the whole batch (:class:`PublishError`); the service then
does not commit and sends the batch again. The producer is rebuilt after a failure, so
a broker that was down or restarted is reconnected from scratch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from kafka.errors import KafkaError

from detector.kafka_io import OutRecord

log = logging.getLogger(__name__)


class PublishError(Exception):
    """Some record of the batch was not acknowledged; the batch must not be committed."""


class Publisher:
    """Sends records and waits for the broker's acks.

    Args:
        make_producer: Builds a connected ``KafkaProducer`` (called lazily, and again
            after a failure).
        ack_timeout_s: How long :meth:`publish` waits for all acks.
    """

    def __init__(self, make_producer: Callable[[], Any], ack_timeout_s: float) -> None:
        self._make_producer = make_producer
        self._ack_timeout_s = ack_timeout_s
        self._producer: Any = None

    def publish(self, records: Sequence[OutRecord]) -> None:
        """Send all records and return once every one is acknowledged.

        Raises:
            PublishError: A record failed or was not acknowledged in time.
        """
        if not records:
            return
        try:
            producer = self._connected()
            futures = [
                producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
                for r in records
            ]
            producer.flush(timeout=self._ack_timeout_s)
            for future in futures:
                future.get(timeout=0)
        except (KafkaError, OSError) as exc:
            # kafka-python raises KafkaTimeoutError / NoBrokersAvailable / per-record
            # errors here; all mean "not acknowledged".
            self._discard()
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush and close the producer, if one was made."""
        if self._producer is not None:
            try:
                self._producer.close(timeout=timeout_s)
            except Exception as exc:  # closing must not mask the reason we stop
                log.warning("closing the producer failed: %s", exc)
            self._producer = None

    def _connected(self) -> Any:
        if self._producer is None:
            self._producer = self._make_producer()
        return self._producer

    def _discard(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception as exc:  # a broken producer may fail to close; drop it anyway
                log.debug("discarding a failed producer: %s", exc)
            self._producer = None
