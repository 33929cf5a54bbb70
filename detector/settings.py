"""The detector's settings: one frozen pydantic-settings model.

Precedence, highest first: CLI flags (passed as keyword arguments), environment
variables ``ECG_DETECTOR_*``, the YAML file given as ``config_file`` (``--config``), the
defaults below. Built once in :func:`detector.main.main` and passed down; nothing
reads settings at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

ENV_PREFIX = "ECG_DETECTOR_"

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PolicyMode = Literal["beat", "episode"]


class SettingsError(Exception):
    """The settings are invalid; the message names every problem and where it came from."""


class DetectorSettings(BaseSettings):
    """Everything the detector can be configured with (see the README's table)."""

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

    # Security.
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

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
        problems = _security_problems(self) + _policy_problems(self)
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


def _security_problems(s: DetectorSettings) -> list[str]:
    problems = []
    sasl = s.security_protocol.startswith("SASL_")
    if sasl and s.sasl_mechanism is None:
        problems.append(f"security_protocol {s.security_protocol} needs sasl_mechanism")
    if sasl and (not s.sasl_username or s.sasl_password is None):
        problems.append(f"security_protocol {s.security_protocol} needs sasl_username and "
                        "sasl_password")
    if not sasl and s.sasl_mechanism is not None:
        problems.append(f"sasl_mechanism is set but security_protocol is {s.security_protocol}")
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(s, name)
        if path is not None and not path.is_file():
            problems.append(f"{name}: {path} is not a readable file")
    if (s.ssl_certfile is None) != (s.ssl_keyfile is None):
        problems.append("ssl_certfile and ssl_keyfile must be given together")
    return problems


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
