"""metrics.json content and the final summary table printed by ``ecg-train``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from training.baselines import HEADLINE, summarize
from training.config import config_to_dict

if TYPE_CHECKING:
    from training.pipeline import RunResult


def build_metrics(result: RunResult) -> dict[str, Any]:
    """The run's figures: the bundle model's test metrics, the seed spread, baselines."""
    best = result.runs[0]
    per_seed = {r.seed: r.test for r in result.runs}
    data = result.prepared.data
    return {
        "test": best.test,
        "threshold": best.threshold.model_dump(),
        "architecture": best.architecture,
        "bundle_seed": best.seed,
        "seeds": {
            str(r.seed): {
                **{k: r.test[k] for k in HEADLINE},
                "threshold": r.threshold.value,
                "best_epoch": r.history.best_epoch,
                "epochs_run": len(r.history.stage1_val),
                "train_seconds": r.history.seconds,
            }
            for r in result.runs
        },
        "spread": summarize(per_seed),
        "baselines": result.baselines,
        "data": {
            "source": data.source,
            "sha256": data.sha256,
            "beats": len(data),
            "split": {k: len(v) for k, v in result.prepared.splits.items() if k != "all"},
        },
        "bundle": {
            "path": str(result.bundle.path) if result.bundle else None,
            "model_version": result.bundle.version if result.bundle else None,
        },
        "config": config_to_dict(result.config),
        "timings": dict(result.timings),
    }


def summary_table(metrics: dict[str, Any]) -> str:
    """A plain-text table: the default model (mean ± std over seeds) and each baseline."""
    rows: list[tuple[str, ...]] = [("model", "ROC-AUC", "PR-AUC", "F1", "FAR", "train s")]
    arch = metrics["architecture"]
    rows.append(_row(f"{arch} (bundle, seed {metrics['bundle_seed']})",
                     {k: {"mean": metrics["test"][k], "std": 0.0} for k in HEADLINE},
                     metrics["seeds"][str(metrics["bundle_seed"])]["train_seconds"], False))
    mean_seconds = metrics["timings"].get("default_train_seconds_mean", 0.0)
    rows.append(_row(f"{arch} ({len(metrics['seeds'])} seeds)", metrics["spread"],
                     mean_seconds, True))
    for name, entry in metrics["baselines"].items():
        rows.append(_row(f"baseline {name}", entry["summary"], entry["train_seconds_mean"],
                         len(entry["per_seed"]) > 1))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    threshold = metrics["threshold"]
    lines.append(f"threshold: {threshold['rule']} = {threshold['value']:.6f} "
                 f"(chosen on train/validation only)")
    return "\n".join(lines)


def _row(name: str, summary: dict[str, Any], seconds: float, spread: bool) -> tuple[str, ...]:
    def cell(key: str) -> str:
        m = summary[key]
        return f"{m['mean']:.4f} ± {m['std']:.4f}" if spread else f"{m['mean']:.4f}"

    return (name, cell("roc_auc"), cell("pr_auc"), cell("f1"), cell("false_alarm_rate"),
            f"{seconds:.1f}")
