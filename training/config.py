"""The training configuration: a frozen pydantic model loaded from YAML.

Every section forbids unknown keys, and every error names the offending key and, where
the value comes from a fixed set, the allowed values. CLI flags override the file through
dotted keys (``fit.epochs=5``) applied before validation.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

Architecture = Literal["dense", "seed"]
ThresholdRule = Literal["mean_std", "percentile", "false_alarm_rate", "best_f1"]
Baseline = Literal["seed", "seed_stage2", "pca", "iforest"]


class ConfigError(Exception):
    """The training configuration is unreadable or invalid; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Section):
    """Where the beats come from and how they are split and scaled."""

    source: str = Field("auto", description="auto | ucr | url | a path to a CSV/TSV file")
    split_seed: int = 21
    scaler: Literal["minmax", "standard"] = "minmax"


class ModelConfig(_Section):
    """The autoencoder architecture (``seed`` ignores ``hidden``/``latent``)."""

    architecture: Architecture = "dense"
    hidden: tuple[int, ...] = (64, 32)
    latent: int = Field(8, gt=0)


class FitConfig(_Section):
    """Stage 1 (reconstruction of normal beats) and the optional stage 2 (seed's)."""

    epochs: int = Field(300, gt=0)
    patience: int = Field(20, gt=0)
    batch_size: int = Field(128, gt=0)
    learning_rate: float = Field(1e-3, gt=0)
    stage2_epochs: int = Field(0, ge=0)
    stage2_anomaly_weight: float = Field(3.0, gt=0)
    stage2_bce_weight: float = Field(0.9, gt=0)
    seeds: tuple[int, ...] = Field((0, 1, 2), min_length=1)


class ThresholdConfig(_Section):
    """How the decision threshold is calibrated (never on the test split)."""

    rule: ThresholdRule = "best_f1"
    k: float = Field(2.0, gt=0, description="mean_std: mean + k * std")
    percentile: float = Field(95.0, gt=0, lt=100)
    false_alarm_rate: float = Field(0.01, gt=0, lt=1)


class EvaluationConfig(_Section):
    """Baselines trained and scored in the same run, and the report."""

    baselines: tuple[Baseline, ...] = ("seed", "seed_stage2", "pca", "iforest")
    seed_stage2_epochs: int = Field(20, gt=0, description="seed_stage2: the notebook's 20")
    pca_components: int = Field(4, gt=0)
    report: bool = True


class TrainingConfig(_Section):
    """The whole training run."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    fit: FitConfig = FitConfig()
    threshold: ThresholdConfig = ThresholdConfig()
    evaluation: EvaluationConfig = EvaluationConfig()


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """Read a YAML file (or the defaults when ``path`` is None) and apply overrides.

    Args:
        path: YAML file with the sections of :class:`TrainingConfig`.
        overrides: Dotted keys to values, e.g. ``{"fit.epochs": 5}``; applied last.

    Raises:
        ConfigError: Unreadable YAML, an unknown key or a bad value, naming the key.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping of sections at the top level")
        raw = loaded or {}
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    return validate_config(raw, where=str(path) if path else "config")


def validate_config(raw: dict[str, Any], where: str = "config") -> TrainingConfig:
    """Validate a mapping into :class:`TrainingConfig` with key-naming errors."""
    try:
        return TrainingConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(err) for err in exc.errors(include_url=False)]
        raise ConfigError(f"{where}: " + "; ".join(problems)) from None


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{dotted}: {key} is not a section")
        node = child
    node[leaf] = value


def _describe(err: Any) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        allowed = ", ".join(_fields_at(loc[:-1]))
        return f"unknown key {key!r} (allowed keys: {allowed})"
    allowed = _allowed_values(loc)
    suffix = f" (allowed values: {allowed})" if allowed else ""
    return f"{key}: {err['msg']}{suffix}"


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = TrainingConfig
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or not (
            isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        ):
            return None
        model = field.annotation
    return model


def _fields_at(loc: list[str]) -> list[str]:
    model = _model_at(loc)
    return list(model.model_fields) if model else []


def _allowed_values(loc: list[str]) -> str:
    model = _model_at(loc[:-1]) if len(loc) >= 2 else None
    if model is None:
        # A tuple element (e.g. evaluation.baselines.0): look at the tuple's field.
        model = _model_at(loc[:-2]) if len(loc) >= 3 else None
        field = model.model_fields.get(loc[-2]) if model else None
    else:
        field = model.model_fields.get(loc[-1])
    if field is None:
        return ""
    literals = _literal_values(field.annotation)
    return ", ".join(repr(v) for v in literals)


def _literal_values(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    values: list[Any] = []
    for arg in typing.get_args(annotation):
        if arg is not Ellipsis:
            values.extend(_literal_values(arg))
    return values


def config_to_dict(config: TrainingConfig) -> dict[str, Any]:
    """JSON-serialisable form of a config (recorded in the bundle and metrics.json)."""
    return config.model_dump(mode="json")
