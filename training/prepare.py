"""Load, split and scale: everything before the model sees a beat.

The scaler is fitted on the training split only (MinMax as the seed, or standard
scaling) and stored as :class:`detector.bundle.ScalerParams`, the exact transform the
detector applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from detector.bundle import ScalerParams
from training.data import Dataset, load_dataset, split
from training.fit import TrainingData


def fit_scaler(train_x: np.ndarray, kind: Literal["minmax", "standard"]) -> ScalerParams:
    """Fit per-sample scaling on the training beats (a zero range or std becomes 1).

    Matches scikit-learn's ``MinMaxScaler`` and ``StandardScaler`` (population std).
    """
    x = np.asarray(train_x, dtype=np.float64)
    if kind == "minmax":
        center, spread = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
    else:
        center, spread = x.mean(axis=0), x.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    return ScalerParams(kind=kind, center=center.tolist(), scale=spread.tolist())


@dataclass(frozen=True)
class Prepared:
    """The splits (raw), the scaler and the scaled arrays."""

    data: Dataset
    splits: dict[str, Dataset]
    scaler: ScalerParams
    scaled: dict[str, np.ndarray]

    def training_data(self) -> TrainingData:
        """Train and validation arrays for the fit (the test split stays out)."""
        return TrainingData(
            train=self.scaled["train"],
            train_anomaly=self.splits["train"].anomaly,
            val=self.scaled["val"],
            val_anomaly=self.splits["val"].anomaly,
        )


def prepare(
    source: str | None = "auto",
    *,
    split_seed: int = 21,
    scaler: Literal["minmax", "standard"] = "minmax",
    data: Dataset | None = None,
) -> Prepared:
    """Load ECG5000 (unless ``data`` is given), split it as the seed and scale it."""
    dataset = data if data is not None else load_dataset(source)
    parts = split(dataset, split_seed)
    params = fit_scaler(parts["train"].X, scaler)
    scaled = {name: params.transform(parts[name].X) for name in ("train", "val", "test")}
    return Prepared(dataset, parts, params, scaled)
