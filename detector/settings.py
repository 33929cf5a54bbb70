"""The detector's settings: one frozen pydantic-settings model.

Precedence, highest first: CLI flags (passed as keyword arguments), environment
variables ``ECG_DETECTOR_*``, the YAML file given as ``config_file`` (``--config``), the
defaults below. Built once in :func:`detector.main.main` and passed down; nothing
reads settings at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from detector.kafka_security import KafkaSecurity

ENV_PREFIX = "ECG_DETECTOR_"

PolicyMode = Literal["beat", "episode"]


class SettingsError(Exception):
    """The settings are invalid; the message names every problem and where it came from."""


class DetectorSettings(BaseSettings, KafkaSecurity):
    """Everything the detector can be configured with (see the README's table).

    The security fields (``security_protocol``, ``sasl_*``, ``ssl_*``) come from
    :class:`detector.kafka_security.KafkaSecurity`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", protected_namespaces=()
    )

    config_file: Path | None = Field(None, description="YAML file with these settings.")
    bundle: Path = Field(Path("artifacts/bundle"), description="Model bundle directory.")

    # Kafka topics and group.
    bootstrap_servers: str = "localhost:9092"
    alerts_bootstrap_servers: str | None = Field(
        None, description="Cluster for alerts and dead letters; default: bootstrap_servers."
    )
    topic: str = Field("ecg.beats", min_length=1)
    alerts_topic: str = Field("ecg.alerts", min_length=1)
    dlq_topic: str = Field("ecg.beats.dlq", min_length=1)
    group: str = Field("ecg-detector", min_length=1)
    client_id: str = "ecg-detector"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"

    # Batching and consumer-group timing (Kafka's defaults; tests use small values).
    max_batch: int = Field(500, ge=1, le=100_000)
    poll_timeout_ms: int = Field(200, ge=1)
    session_timeout_ms: int = Field(45_000, ge=1000)
    heartbeat_interval_ms: int = Field(3_000, ge=100)
    max_poll_interval_ms: int = Field(300_000, ge=1000)
    fetch_max_wait_ms: int = Field(100, ge=0)
    bootstrap_timeout_ms: int = Field(30_000, ge=100, description="Start-up connect limit.")
    reconnect_backoff_max_ms: int = Field(1_000, ge=10)

    # Publishing and retry.
    delivery_timeout_ms: int = Field(30_000, ge=1000)
    request_timeout_ms: int = Field(10_000, ge=500)
    max_block_ms: int = Field(10_000, ge=100)
    # publish() flushes every batch, so linger adds no latency; it only lets a batch's
    # alerts share a few record batches instead of waking the sender for each one.
    linger_ms: int = Field(50, ge=0)
    retry_backoff_initial_s: float = Field(0.5, gt=0)
    retry_backoff_max_s: float = Field(30.0, gt=0)

    # Alert policy.
    policy: PolicyMode = "beat"
    episode_k: int = Field(3, ge=1, description="Anomalous beats among the last n to alert.")
    episode_n: int = Field(5, ge=1, description="Beats in the episode window.")
    episode_cooldown: int = Field(10, ge=0, description="Beats without alerts after one.")

    # Operations.
    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(8000, ge=0, le=65535, description="0 disables /metrics.")
    max_beats: int | None = Field(None, ge=1, description="Stop after this many records.")
    timeout: float | None = Field(None, gt=0, description="Stop after this many seconds.")
    idle_timeout: float | None = Field(None, gt=0, description="Stop when idle this long.")
    reload_interval_s: float = Field(5.0, gt=0, description="Bundle change check period.")
    progress_interval_s: float = Field(30.0, gt=0, description="Progress log period.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _check(self) -> DetectorSettings:
        problems = self.security_problems() + _policy_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = None
        if isinstance(init_settings, InitSettingsSource):
            config = init_settings.init_kwargs.get("config_file")
        if config is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=Path(config)))
        return tuple(sources)


def _policy_problems(s: DetectorSettings) -> list[str]:
    problems = []
    if s.episode_k > s.episode_n:
        problems.append(f"episode_k ({s.episode_k}) must be <= episode_n ({s.episode_n})")
    if s.heartbeat_interval_ms >= s.session_timeout_ms:
        problems.append("heartbeat_interval_ms must be < session_timeout_ms")
    if s.retry_backoff_initial_s > s.retry_backoff_max_s:
        problems.append("retry_backoff_initial_s must be <= retry_backoff_max_s")
    return problems


def load_settings(**overrides: Any) -> DetectorSettings:
    """Build the settings from CLI overrides, the environment and the YAML file.

    Args:
        **overrides: Values from CLI flags (``None`` values are dropped, so a flag not
            given does not hide the environment or the file); ``config_file`` names
            the YAML file.

    Returns:
        The validated, frozen settings.

    Raises:
        SettingsError: A value is invalid or missing, or the YAML file is unreadable;
            the message lists every problem with the setting's name.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    config = given.get("config_file")
    if config is not None and not Path(config).is_file():
        raise SettingsError(f"config file {config} does not exist")
    try:
        return DetectorSettings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        where = f" (file {config}, env {ENV_PREFIX}*, flags)" if config else ""
        raise SettingsError(f"invalid settings{where}: {problems}") from None
    except Exception as exc:  # YAML syntax errors surface from the source
        raise SettingsError(f"cannot read settings from {config}: {exc}") from None
