"""The model bundle: one directory that carries the model, its scaler and its threshold.

Layout written by ``ecg-train`` (see ``training/export.py``)::

    bundle/
      model.tflite   served by LiteRT (no TensorFlow needed)
      model.keras    the Keras model, for retraining and inspection
      bundle.json    schema version, model version, scaler, threshold, metadata

:func:`load_bundle` is the one loader everything that serves uses. It validates the
whole directory before anything is served and raises :class:`BundleError` naming the
file and the problem.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detector.contract import WINDOW_LENGTH

BUNDLE_SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = (1,)
MODEL_FILE = "model.tflite"
KERAS_FILE = "model.keras"
MANIFEST_FILE = "bundle.json"


class BundleError(Exception):
    """A bundle is missing, corrupt or incompatible; the message names file and problem."""


class ScalerParams(BaseModel):
    """Per-sample affine scaling fitted on the training split: ``(x - center) / scale``.

    MinMax scaling stores ``center = min`` and ``scale = max - min``; standard scaling
    stores the mean and the standard deviation. A zero range is stored as 1, as
    scikit-learn does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["minmax", "standard"]
    center: list[float]
    scale: list[float]

    @model_validator(mode="after")
    def _check(self) -> ScalerParams:
        if len(self.center) != len(self.scale):
            raise ValueError(f"center has {len(self.center)} values, scale {len(self.scale)}")
        values = [*self.center, *self.scale]
        if not all(math.isfinite(v) for v in values):
            raise ValueError("scaler parameters must be finite")
        if any(s <= 0 for s in self.scale):
            raise ValueError("scaler scale values must be > 0")
        return self

    def transform(self, windows: np.ndarray) -> np.ndarray:
        """Scale raw windows of shape (n, window) to model space (float32)."""
        center = np.asarray(self.center, dtype=np.float32)
        scale = np.asarray(self.scale, dtype=np.float32)
        return ((windows - center) / scale).astype(np.float32, copy=False)


class ThresholdSpec(BaseModel):
    """How the threshold was chosen and its value (score > value means anomalous)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: Literal["mean_std", "percentile", "false_alarm_rate", "best_f1"]
    value: float = Field(gt=0)
    params: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _finite(self) -> ThresholdSpec:
        if not math.isfinite(self.value):
            raise ValueError("threshold value must be finite")
        return self


class Manifest(BaseModel):
    """The content of ``bundle.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    schema_version: int
    model_version: str = Field(min_length=1)
    created_at: str
    window_length: int = Field(gt=0)
    architecture: str
    scaler: ScalerParams
    threshold: ThresholdSpec
    score: Literal["mse"] = "mse"
    training_data: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any]
    files: dict[str, str] = Field(description="file name -> SHA-256 of its bytes")

    @model_validator(mode="after")
    def _scaler_matches_window(self) -> Manifest:
        if len(self.scaler.center) != self.window_length:
            raise ValueError(
                f"scaler has {len(self.scaler.center)} values but window_length is "
                f"{self.window_length}"
            )
        return self


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: its manifest plus the serving model's bytes."""

    path: Path
    manifest: Manifest
    tflite_model: bytes = field(repr=False)

    @property
    def version(self) -> str:
        """The model version id (unique per training run)."""
        return self.manifest.model_version

    @property
    def threshold(self) -> float:
        """Scores strictly above this value are anomalous."""
        return self.manifest.threshold.value


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_bundle(path: str | Path, expected_window: int = WINDOW_LENGTH) -> Bundle:
    """Load and validate a bundle directory.

    Args:
        path: The bundle directory (the one holding ``bundle.json``).
        expected_window: Window length the caller will feed; must match the bundle's.

    Returns:
        The validated :class:`Bundle`.

    Raises:
        BundleError: The directory or a file is missing, a file does not match the
            checksum in the manifest, the manifest is not valid JSON or fails the
            schema, its schema version is unknown, its window length differs from
            ``expected_window``, or LiteRT cannot load the model.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root}: bundle directory does not exist")
    manifest = _read_manifest(root / MANIFEST_FILE)
    if manifest.window_length != expected_window:
        raise BundleError(
            f"{root / MANIFEST_FILE}: window length mismatch: bundle has "
            f"{manifest.window_length}, the stream carries {expected_window}"
        )
    for name in (MODEL_FILE, *manifest.files):
        if not (root / name).is_file():
            raise BundleError(f"{root / name}: missing file")
    for name, expected in manifest.files.items():
        actual = sha256_file(root / name)
        if actual != expected:
            raise BundleError(f"{root / name}: corrupt file: SHA-256 {actual} != {expected}")
    if MODEL_FILE not in manifest.files:
        raise BundleError(f"{root / MANIFEST_FILE}: files does not list {MODEL_FILE}")
    model = (root / MODEL_FILE).read_bytes()
    _check_model(root / MODEL_FILE, model, expected_window)
    return Bundle(path=root, manifest=manifest, tflite_model=model)


def _read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise BundleError(f"{path}: missing file")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: corrupt file: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise BundleError(f"{path}: corrupt file: expected a JSON object")
    version = raw.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise BundleError(
            f"{path}: unknown schema version {version!r}; this detector reads "
            f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise BundleError(f"{path}: invalid manifest: {problems}") from None


def _check_model(path: Path, model: bytes, window: int) -> None:
    """Load the model in LiteRT once so a broken file fails here, not mid-stream."""
    from detector.scoring import make_interpreter  # local: keeps this module light

    try:
        interpreter = make_interpreter(model)
    except Exception as exc:  # LiteRT raises ValueError/RuntimeError with C++ text
        raise BundleError(f"{path}: corrupt file: LiteRT cannot load it ({exc})") from None
    shape = interpreter.get_input_details()[0]["shape"]
    if int(shape[-1]) != window:
        raise BundleError(f"{path}: model input has {shape[-1]} samples, expected {window}")
