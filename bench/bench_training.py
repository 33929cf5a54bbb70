"""Benchmark: training time of the default model and of a whole ``ecg-train`` run.

Runs the real ``ecg-train --config configs/training.yaml`` (3 seeds, baselines, report)
in a subprocess and reports:

* wall time of the default model's training per seed (target <= 60 s on 2 cores),
* wall time of the whole ``ecg-train`` run (including the TensorFlow import),
* both as ratios against the seed architecture's training time measured in the same
  run with the same settings (the baseline), plus the quality figures of the run.

Usage: ``.venv/bin/python bench/bench_training.py [--out DIR] [--json FILE] [-- extra flags]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0


def run_training(out: Path, extra: list[str]) -> tuple[float, dict[str, Any]]:
    """Run ``ecg-train`` with the default config; returns (wall seconds, metrics.json)."""
    command = [str(Path(sys.executable).parent / "ecg-train"), "--config",
               str(ROOT / "configs" / "training.yaml"), "--out", str(out), "--quiet-epochs",
               *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return wall, json.loads((out / "metrics.json").read_text())


def summarize(wall: float, metrics: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's figures from one run."""
    per_seed = {s: m["train_seconds"] for s, m in metrics["seeds"].items()}
    default_mean = sum(per_seed.values()) / len(per_seed)
    seed_arch = metrics["baselines"].get("seed", {}).get("train_seconds_mean")
    spread = metrics["spread"]
    return {
        "cores": os.cpu_count(),
        "default_train_seconds_per_seed": per_seed,
        "default_train_seconds_mean": default_mean,
        "default_train_within_target": default_mean <= TARGET_SECONDS,
        "ecg_train_wall_seconds": wall,
        "baseline_seed_arch_train_seconds_mean": seed_arch,
        "ratio_default_vs_seed_arch_training": default_mean / seed_arch if seed_arch else None,
        "ratio_ecg_train_wall_vs_seed_arch_training": wall / seed_arch if seed_arch else None,
        "test_mean_over_seeds": {k: spread[k]["mean"] for k in
                                 ("roc_auc", "pr_auc", "f1", "false_alarm_rate")},
        "baselines_mean": {name: {k: b["summary"][k]["mean"] for k in ("roc_auc", "pr_auc", "f1")}
                           for name, b in metrics["baselines"].items()},
    }


def main() -> int:
    """Run the benchmark and print (and optionally save) its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep the run here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    parser.add_argument("extra", nargs="*", help="extra ecg-train flags after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        wall, metrics = run_training(out, args.extra)
    figures = summarize(wall, metrics)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"default model training: {figures['default_train_seconds_mean']:.1f} s per seed "
          f"(target <= {TARGET_SECONDS:.0f} s: "
          f"{'met' if figures['default_train_within_target'] else 'NOT met'}); "
          f"whole ecg-train: {wall:.1f} s; seed architecture training: "
          f"{figures['baseline_seed_arch_train_seconds_mean']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
