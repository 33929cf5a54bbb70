"""One training run: prepare, train over seeds, calibrate, evaluate, baselines, export.

Only training and validation beats choose anything (weights, early-stopping epoch,
threshold); the test split is scored once per model, at the end, for the report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detector.bundle import Bundle, ThresholdSpec
from training.config import TrainingConfig, config_to_dict, validate_config
from training.evaluate import detection_metrics
from training.export import write_bundle
from training.fit import EpochLog, History, reconstruction_errors, train_model
from training.models import Networks
from training.prepare import Prepared, prepare
from training.threshold import calibrate

Log = Callable[[str], None]


@dataclass
class SeedRun:
    """One trained model: its networks, history, threshold, errors and test metrics."""

    seed: int
    architecture: str
    nets: Networks
    history: History
    threshold: ThresholdSpec
    errors: dict[str, np.ndarray]
    test: dict[str, Any]


@dataclass
class RunResult:
    """Everything a run produced (the bundle's model is ``runs[0]``)."""

    config: TrainingConfig
    prepared: Prepared
    runs: list[SeedRun]
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    baseline_runs: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    bundle: Bundle | None = None


def train_and_score(
    prepared: Prepared,
    cfg: TrainingConfig,
    *,
    seed: int,
    architecture: str | None = None,
    on_epoch: EpochLog | None = None,
) -> SeedRun:
    """Train one model, calibrate its threshold on train/val, score the test split."""
    arch = architecture or cfg.model.architecture
    nets, history = train_model(
        prepared.training_data(), cfg.model, cfg.fit, seed=seed, architecture=arch,
        on_epoch=on_epoch,
    )
    errors = {
        name: reconstruction_errors(nets.autoencoder, prepared.scaled[name])
        for name in ("train", "val", "test")
    }
    train_anomaly = prepared.splits["train"].anomaly
    spec = calibrate(
        cfg.threshold,
        normal_train_errors=errors["train"][~train_anomaly],
        val_errors=errors["val"],
        val_anomaly=prepared.splits["val"].anomaly,
    )
    test = prepared.splits["test"]
    metrics = detection_metrics(test.anomaly, errors["test"], spec.value, test.classes)
    return SeedRun(seed, arch, nets, history, spec, errors, metrics)


def export(result: RunResult, bundle_dir: Path) -> Bundle:
    """Write the bundle of the first seed's model with its test metrics."""
    best = result.runs[0]
    data = result.prepared.data
    return write_bundle(
        bundle_dir,
        model=best.nets.autoencoder,
        scaler=result.prepared.scaler,
        threshold=best.threshold,
        architecture=best.architecture,
        training_data={"source": data.source, "sha256": data.sha256, "beats": len(data),
                       "split_seed": result.config.data.split_seed},
        config=config_to_dict(result.config),
        metrics={"test": _headline(best.test), "seed": best.seed},
    )


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("roc_auc", "pr_auc", "f1", "precision", "recall", "false_alarm_rate", "accuracy")
    return {k: metrics[k] for k in keys}


def run(cfg: TrainingConfig, out_dir: Path, log: Log = print,
        on_epoch: EpochLog | None = None) -> RunResult:
    """The whole ``ecg-train`` run: writes bundle/, metrics.json and report.html."""
    from training.baselines import run_baselines  # scikit-learn: imported when needed
    from training.summary import build_metrics

    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare(cfg.data.source, split_seed=cfg.data.split_seed, scaler=cfg.data.scaler)
    sizes = {k: len(v) for k, v in prepared.splits.items() if k != "all"}
    log(f"data: {prepared.data.source} ({len(prepared.data)} beats), split {sizes}")
    runs = []
    for seed in cfg.fit.seeds:
        log(f"training {cfg.model.architecture} seed={seed}")
        runs.append(train_and_score(prepared, cfg, seed=seed, on_epoch=on_epoch))
        log(_one_line(runs[-1]))
    result = RunResult(cfg, prepared, runs)
    result.baselines, result.baseline_runs = run_baselines(prepared, cfg, log, on_epoch)
    result.bundle = export(result, out_dir / "bundle")
    log(f"bundle: {result.bundle.path} (version {result.bundle.version})")
    result.timings = {
        "default_train_seconds_mean": float(np.mean([r.history.seconds for r in runs])),
        "total_seconds_before_report": time.perf_counter() - started,
    }
    result.metrics = build_metrics(result)
    if cfg.evaluation.report:
        from training.report import write_report

        write_report(result, out_dir)
    result.timings["total_seconds"] = time.perf_counter() - started
    result.metrics["timings"] = result.timings
    (out_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2) + "\n")
    return result


def _one_line(r: SeedRun) -> str:
    t = r.test
    return (f"  {r.architecture} seed={r.seed}: best epoch {r.history.best_epoch}, "
            f"{r.history.seconds:.1f} s, threshold {r.threshold.rule}={r.threshold.value:.5f}, "
            f"test ROC-AUC {t['roc_auc']:.4f} PR-AUC {t['pr_auc']:.4f} F1 {t['f1']:.4f} "
            f"FAR {t['false_alarm_rate']:.4f}")


def quick_config() -> TrainingConfig:
    """The default architecture with a short budget: one seed, no baselines, no report."""
    return validate_config({
        "fit": {"epochs": 150, "patience": 10, "seeds": [0]},
        "evaluation": {"baselines": [], "report": False},
    })


def train_bundle_for_tests(out_dir: Path) -> Path:
    """Train the default architecture briefly on the real ECG5000 and write a bundle.

    Used by the ``trained_bundle`` test fixture: a short but real run (one seed, early
    stopping), threshold calibrated without test labels.

    Returns:
        ``out_dir / "bundle"``.
    """
    cfg = quick_config()
    prepared = prepare(cfg.data.source, split_seed=cfg.data.split_seed, scaler=cfg.data.scaler)
    result = RunResult(cfg, prepared, [train_and_score(prepared, cfg, seed=cfg.fit.seeds[0])])
    bundle = export(result, Path(out_dir) / "bundle")
    return bundle.path
