"""Write a model bundle (see :mod:`detector.bundle` for the layout and the loader).

The bundle is written into a temporary sibling directory and renamed into place, so a
reader (the detector's hot reload) never sees a half-written bundle; it is then loaded
back with the serving loader, so a bundle that would not serve is never left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from detector.bundle import (
    BUNDLE_SCHEMA_VERSION,
    KERAS_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Bundle,
    ScalerParams,
    ThresholdSpec,
    load_bundle,
    sha256_file,
)


def to_tflite(model: Any) -> bytes:
    """Convert a Keras autoencoder (input (None, w) -> output (None, w)) to TFLite bytes."""
    import contextlib
    import io

    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # The converter prints a SavedModel signature dump to stdout; keep CLI output clean.
    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(converter.convert())


def write_bundle(
    out_dir: str | Path,
    *,
    model: Any,
    scaler: ScalerParams,
    threshold: ThresholdSpec,
    architecture: str,
    training_data: dict[str, Any],
    config: dict[str, Any],
    metrics: dict[str, Any],
    window_length: int = 140,
) -> Bundle:
    """Write ``out_dir`` atomically (model.tflite, model.keras, bundle.json) and load it back.

    Args:
        out_dir: The bundle directory to create or replace.
        model: The serving Keras model: scaled window in, reconstruction out.
        scaler: Scaler fitted on the training split.
        threshold: The calibrated threshold and the rule that chose it.
        architecture: Name of the architecture (``dense`` or ``seed``).
        training_data: Source description, including its ``sha256``.
        config: The training configuration used (JSON-serialisable).
        metrics: Test metrics to record.
        window_length: Samples per window.

    Returns:
        The bundle as loaded by :func:`detector.bundle.load_bundle`.
    """
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tflite = to_tflite(model)
        (staging / MODEL_FILE).write_bytes(tflite)
        model.save(staging / KERAS_FILE)
        created = datetime.now(timezone.utc)
        files = {name: sha256_file(staging / name) for name in (MODEL_FILE, KERAS_FILE)}
        version = created.strftime("%Y%m%dT%H%M%SZ") + "-" + hashlib.sha256(tflite).hexdigest()[:8]
        manifest = {
            "schema_version": BUNDLE_SCHEMA_VERSION,
            "model_version": version,
            "created_at": created.isoformat(timespec="seconds"),
            "window_length": window_length,
            "architecture": architecture,
            "scaler": scaler.model_dump(),
            "threshold": threshold.model_dump(),
            "score": "mse",
            "training_data": training_data,
            "config": config,
            "metrics": metrics,
            "files": files,
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        load_bundle(staging, expected_window=window_length)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return load_bundle(target, expected_window=window_length)


def _swap_into_place(staging: Path, target: Path) -> None:
    # rename() of a directory onto a non-empty directory fails, so move the old one
    # aside first; the window without a bundle is two renames long.
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
    staging.rename(target)
    target.chmod(0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
