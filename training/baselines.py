"""Baselines scored in the same run as the default model, over the same seeds.

* ``seed``: the notebook's architecture trained with the same fit settings (stage 1);
* ``seed_stage2``: the same followed by the notebook's stage 2 (decoder frozen,
  reconstruction + class-weighted BCE, ``evaluation.seed_stage2_epochs`` epochs);
* ``pca``: reconstruction error of a PCA fitted on normal training beats;
* ``iforest``: IsolationForest fitted on normal training beats (score = -score_samples).

Each baseline's threshold is calibrated with the configured rule on train/validation
errors, exactly as the default model's, so the comparison is like for like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from detector.scoring import reconstruction_error
from training.config import TrainingConfig
from training.evaluate import detection_metrics
from training.fit import EpochLog
from training.prepare import Prepared
from training.threshold import calibrate

Log = Callable[[str], None]
HEADLINE = ("roc_auc", "pr_auc", "f1", "precision", "recall", "false_alarm_rate")


def pca_scores(prepared: Prepared, components: int) -> dict[str, np.ndarray]:
    """PCA reconstruction MSE per split, fitted on normal training beats."""
    from sklearn.decomposition import PCA

    normal = prepared.scaled["train"][~prepared.splits["train"].anomaly]
    pca = PCA(n_components=components).fit(normal)
    out = {}
    for name in ("train", "val", "test"):
        x = prepared.scaled[name].astype(np.float64)
        out[name] = reconstruction_error(x, pca.inverse_transform(pca.transform(x)))
    return out


def iforest_scores(prepared: Prepared, seed: int) -> dict[str, np.ndarray]:
    """IsolationForest anomaly scores per split (higher = more anomalous)."""
    from sklearn.ensemble import IsolationForest

    normal = prepared.scaled["train"][~prepared.splits["train"].anomaly]
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(normal)
    # Shift so scores are positive (the bundle's threshold must be > 0, and a
    # threshold on a shifted score is the same decision).
    return {name: 1.0 - forest.score_samples(prepared.scaled[name])
            for name in ("train", "val", "test")}


def score_errors(prepared: Prepared, cfg: TrainingConfig, errors: dict[str, np.ndarray]
                 ) -> dict[str, Any]:
    """Calibrate on train/val errors and return the test metrics."""
    train_anomaly = prepared.splits["train"].anomaly
    spec = calibrate(cfg.threshold, normal_train_errors=errors["train"][~train_anomaly],
                     val_errors=errors["val"], val_anomaly=prepared.splits["val"].anomaly)
    test = prepared.splits["test"]
    return detection_metrics(test.anomaly, errors["test"], spec.value, test.classes)


def summarize(per_seed: dict[int, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, std, min and max of each headline metric over seeds."""
    out: dict[str, dict[str, float]] = {}
    for key in HEADLINE:
        values = np.array([m[key] for m in per_seed.values()], dtype=np.float64)
        out[key] = {"mean": float(values.mean()), "std": float(values.std()),
                    "min": float(values.min()), "max": float(values.max())}
    return out


def _entry(per_seed: dict[int, dict[str, Any]], seconds: list[float]) -> dict[str, Any]:
    return {
        "per_seed": {str(s): {k: m[k] for k in HEADLINE} for s, m in per_seed.items()},
        "summary": summarize(per_seed),
        "train_seconds_mean": float(np.mean(seconds)) if seconds else 0.0,
    }


def _seed_config(cfg: TrainingConfig, name: str) -> TrainingConfig:
    stage2 = cfg.evaluation.seed_stage2_epochs if name == "seed_stage2" else 0
    fit = cfg.fit.model_copy(update={"stage2_epochs": stage2})
    return cfg.model_copy(update={"fit": fit})


def run_baselines(
    prepared: Prepared, cfg: TrainingConfig, log: Log, on_epoch: EpochLog | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Train and score the configured baselines over ``cfg.fit.seeds``.

    Returns:
        ``(table, artefacts)``: per baseline its per-seed metrics and summary; and the
        first seed's test scores per baseline (and the seed model's run) for the report.
    """
    from training.pipeline import train_and_score

    table: dict[str, dict[str, Any]] = {}
    artefacts: dict[str, Any] = {}
    for name in cfg.evaluation.baselines:
        per_seed: dict[int, dict[str, Any]] = {}
        seconds: list[float] = []
        for seed in cfg.fit.seeds:
            started = time.perf_counter()
            run = None
            if name in ("seed", "seed_stage2"):
                run = train_and_score(prepared, _seed_config(cfg, name), seed=seed,
                                      architecture="seed", on_epoch=on_epoch)
                errors, metrics = run.errors, run.test
                artefacts.setdefault(f"{name}_run", run)
            else:
                errors = (pca_scores(prepared, cfg.evaluation.pca_components) if name == "pca"
                          else iforest_scores(prepared, seed))
                metrics = score_errors(prepared, cfg, errors)
            # For the seed architecture: training time only, as for the default model.
            seconds.append(run.history.seconds if run is not None
                           else time.perf_counter() - started)
            per_seed[seed] = metrics
            artefacts.setdefault(f"{name}_test_scores", errors["test"])
        table[name] = _entry(per_seed, seconds)
        s = table[name]["summary"]
        log(f"baseline {name}: ROC-AUC {s['roc_auc']['mean']:.4f} "
            f"PR-AUC {s['pr_auc']['mean']:.4f} F1 {s['f1']['mean']:.4f} "
            f"({np.mean(seconds):.1f} s per seed)")
    return table, artefacts
