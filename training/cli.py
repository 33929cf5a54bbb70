"""Console scripts ``ecg-train`` and ``ecg-evaluate``.

``ecg-evaluate`` scores with the bundle through LiteRT (:class:`BundleScorer`), exactly
as the detector does, so it needs neither TensorFlow nor scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from training.config import ConfigError, load_config

# Flag -> dotted config key; the value is parsed by the flag's type.
OVERRIDES = {
    "data": "data.source",
    "scaler": "data.scaler",
    "architecture": "model.architecture",
    "epochs": "fit.epochs",
    "patience": "fit.patience",
    "batch_size": "fit.batch_size",
    "learning_rate": "fit.learning_rate",
    "stage2_epochs": "fit.stage2_epochs",
    "seeds": "fit.seeds",
    "threshold_rule": "threshold.rule",
    "baselines": "evaluation.baselines",
}


def _csv(kind: type) -> Any:
    def parse(text: str) -> list[Any]:
        return [kind(part) for part in text.split(",") if part.strip() and part != "none"]
    return parse


def train_parser() -> argparse.ArgumentParser:
    """Arguments of ``ecg-train``: a config file, an output directory, overrides."""
    p = argparse.ArgumentParser(prog="ecg-train", description=(
        "Train the ECG5000 autoencoder, calibrate its threshold, evaluate it against "
        "baselines and write DIR/bundle, DIR/metrics.json and DIR/report.html."))
    p.add_argument("--config", type=Path, help="YAML training config (defaults if omitted)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--data", help="auto | ucr | url | path to a CSV/TSV file")
    p.add_argument("--scaler", help="minmax | standard")
    p.add_argument("--architecture", help="dense | seed")
    p.add_argument("--epochs", type=int, help="stage 1 epoch budget (early stopping)")
    p.add_argument("--patience", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--stage2-epochs", type=int, help="0 disables the seed's stage 2")
    p.add_argument("--seeds", type=_csv(int), help="comma-separated, e.g. 0,1,2")
    p.add_argument("--threshold-rule", help="mean_std | percentile | false_alarm_rate | best_f1")
    p.add_argument("--baselines", type=_csv(str), help="comma-separated seed,pca,iforest or none")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config key, e.g. --set threshold.k=3 (repeatable)")
    p.add_argument("--quiet-epochs", action="store_true", help="no per-epoch lines")
    return p


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        found[key.strip()] = yaml.safe_load(value)
    for flag, key in OVERRIDES.items():
        value = getattr(args, flag)
        if value is not None:
            found[key] = value
    if args.no_report:
        found["evaluation.report"] = False
    return found


def train_main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecg-train``."""
    args = train_parser().parse_args(argv)
    try:
        cfg = load_config(args.config, _overrides(args))
    except ConfigError as exc:
        print(f"ecg-train: config error: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ banner is noise here
    from training.data import DataError
    from training.pipeline import run
    from training.summary import summary_table

    def on_epoch(stage: str, epoch: int, epochs: int, loss: float, val: float) -> None:
        print(f"    {stage} epoch {epoch:3d}/{epochs}  loss {loss:.6f}  val_loss {val:.6f}",
              flush=True)

    try:
        result = run(cfg, args.out, log=lambda line: print(line, flush=True),
                     on_epoch=None if args.quiet_epochs else on_epoch)
    except DataError as exc:
        print(f"ecg-train: data error: {exc}", file=sys.stderr)
        return 2
    print()
    print(summary_table(result.metrics))
    t = result.timings
    print(f"wrote {args.out / 'bundle'}, {args.out / 'metrics.json'}"
          + (f", {args.out / 'report.html'}" if cfg.evaluation.report else "")
          + f" in {t['total_seconds']:.1f} s")
    return 0


def evaluate_parser() -> argparse.ArgumentParser:
    """Arguments of ``ecg-evaluate``."""
    p = argparse.ArgumentParser(prog="ecg-evaluate", description=(
        "Re-score a dataset with a bundle (LiteRT, as the detector serves it) and print "
        "the metrics at the bundle's threshold."))
    p.add_argument("--bundle", type=Path, required=True, help="the bundle directory")
    p.add_argument("--data", help="auto | ucr | url | path; default: the bundle's training data")
    p.add_argument("--split", choices=["test", "val", "train", "all"], default="test",
                   help="which part of the seed's split to score (default test)")
    p.add_argument("--out", type=Path, help="write the metrics as JSON here")
    return p


def evaluate_main(argv: list[str] | None = None) -> int:
    """Entry point of ``ecg-evaluate``."""
    from detector.bundle import BundleError
    from training.data import DataError
    from training.rescore import rescore

    args = evaluate_parser().parse_args(argv)
    try:
        metrics = rescore(args.bundle, data=args.data, split_name=args.split)
    except (BundleError, DataError) as exc:
        print(f"ecg-evaluate: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(metrics, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    m = metrics["metrics"]
    print(f"{metrics['split']} ({m['n']} beats): ROC-AUC {m['roc_auc']:.4f} PR-AUC "
          f"{m['pr_auc']:.4f} F1 {m['f1']:.4f} false-alarm rate {m['false_alarm_rate']:.4f}",
          file=sys.stderr)
    return 0
