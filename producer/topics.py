"""Create the pipeline's topics with the admin client (existing topics are kept)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError


class TopicError(RuntimeError):
    """A topic could not be created or did not show up in the metadata."""


@dataclass(frozen=True)
class TopicSpec:
    """Name, partitions and replication factor of one topic."""

    name: str
    partitions: int
    replication_factor: int = 1


def ensure_topics(
    bootstrap_servers: str, specs: list[TopicSpec], timeout_s: float = 15.0
) -> dict[str, int]:
    """Create the topics that do not exist yet and wait until all are in the metadata.

    Returns:
        Partition count of every topic (an existing topic keeps its own count).

    Raises:
        TopicError: Creation failed or a topic never appeared within ``timeout_s``.
    """
    servers = bootstrap_servers.split(",")
    try:
        admin = KafkaAdminClient(bootstrap_servers=servers, client_id="ecg-demo-admin")
    except KafkaError as exc:
        raise TopicError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from None
    try:
        for spec in specs:
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, spec.replication_factor)])
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                raise TopicError(f"cannot create topic {spec.name!r}: {exc}") from None
    finally:
        admin.close()
    return _wait_for_metadata(servers, [s.name for s in specs], timeout_s)


def _wait_for_metadata(servers: list[str], names: list[str], timeout_s: float) -> dict[str, int]:
    consumer = KafkaConsumer(bootstrap_servers=servers, client_id="ecg-demo-admin")
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            counts = {n: len(consumer.partitions_for_topic(n) or ()) for n in names}
            if all(counts.values()):
                return counts
            if time.monotonic() > deadline:
                missing = [n for n, c in counts.items() if not c]
                raise TopicError(f"topics {missing} not in the metadata after {timeout_s} s")
            time.sleep(0.1)
            consumer.topics()  # forces a metadata refresh
    finally:
        consumer.close()
