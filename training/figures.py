"""The report's figures, each a pure function of a run's results returning a Figure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure

from training.data import CLASS_NAMES
from training.evaluate import pr_curve, roc_curve

if TYPE_CHECKING:
    from training.pipeline import RunResult, SeedRun

COLORS = {1: "#2b7bba", 2: "#d7301f", 3: "#fc8d59", 4: "#7a0177", 5: "#636363"}


def all_figures(result: RunResult) -> Iterator[tuple[str, str, Figure]]:
    """(file stem, title, figure) for every figure of the report, in page order."""
    best = result.runs[0]
    yield "traces", "Example training beats (scaled)", traces(result)
    yield "loss", "Loss curves (stage 1, and stage 2 when enabled)", losses(result)
    yield "errors", "Test reconstruction error per class, with the threshold", \
        error_histograms(result, best)
    yield "roc_pr", "ROC and precision-recall curves (test, anomaly positive)", roc_pr(result)
    yield "confusion", "Confusion matrix (test)", confusion(best)
    yield "reconstructions", "Original vs reconstructed test beats", reconstructions(result)


def traces(result: RunResult, count: int = 10) -> Figure:
    """The first ``count`` normal and abnormal training beats."""
    x = result.prepared.scaled["train"]
    anomaly = result.prepared.splits["train"].anomaly
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    for ax, mask, title in zip(fig.subplots(1, 2, sharey=True), (~anomaly, anomaly),
                               ("Normal", "Abnormal"), strict=True):
        for row in x[mask][:count]:
            ax.plot(row, lw=0.8)
        ax.set_title(f"{title} beats (first {count})")
        ax.set_xlabel("sample")
    fig.axes[0].set_ylabel("scaled amplitude")
    return fig


def losses(result: RunResult) -> Figure:
    """Train/validation loss per epoch: the bundle model and the seed baseline."""
    runs: list[SeedRun] = [result.runs[0]]
    titles = [f"{result.runs[0].architecture} (bundle)"]
    for key, title in (("seed_run", "baseline seed"), ("seed_stage2_run", "baseline seed_stage2")):
        if key in result.baseline_runs:
            runs.append(result.baseline_runs[key])
            titles.append(title)
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    for ax, run, title in zip(axes, runs, titles, strict=True):
        h = run.history
        n1 = len(h.stage1_train)
        ax.plot(range(1, n1 + 1), h.stage1_train, label="stage 1 train")
        ax.plot(range(1, n1 + 1), h.stage1_val, label="stage 1 validation (normal)")
        if h.stage2_train:
            epochs2 = range(n1 + 1, n1 + len(h.stage2_train) + 1)
            ax.plot(epochs2, h.stage2_train, label="stage 2 train")
            ax.plot(epochs2, h.stage2_val, label="stage 2 validation")
        ax.axvline(h.best_epoch, color="grey", ls=":", label=f"best epoch {h.best_epoch}")
        ax.set_yscale("log")
        ax.set_title(f"{title}, seed {run.seed}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
    return fig


def error_histograms(result: RunResult, run: SeedRun) -> Figure:
    """Histogram of test errors per ECG5000 class (or normal/abnormal) with the threshold."""
    test = result.prepared.splits["test"]
    errors = run.errors["test"]
    groups = ({CLASS_NAMES[c]: (errors[test.classes == c], COLORS[c])
               for c in sorted(set(test.classes.tolist()))}
              if test.classes is not None else
              {"normal": (errors[~test.anomaly], COLORS[1]),
               "abnormal": (errors[test.anomaly], COLORS[2])})
    bins = np.geomspace(max(errors.min(), 1e-6), errors.max(), 60).tolist()
    fig = Figure(figsize=(12, 4), layout="constrained")
    ax = fig.subplots()
    for name, (values, color) in groups.items():
        ax.hist(values, bins=bins, alpha=0.55, color=color, label=f"{name} ({values.size})")
    ax.axvline(run.threshold.value, color="black", ls="--",
               label=f"threshold {run.threshold.rule} = {run.threshold.value:.4g}")
    ax.set_xscale("log")
    ax.set_xlabel("reconstruction error (MSE, scaled)")
    ax.set_ylabel("beats")
    ax.legend(fontsize=8)
    return fig


def roc_pr(result: RunResult) -> Figure:
    """ROC and PR curves of the bundle model and of each baseline's first seed."""
    test = result.prepared.splits["test"]
    curves = {f"{result.runs[0].architecture} (bundle)": result.runs[0].errors["test"]}
    for key, scores in result.baseline_runs.items():
        if key.endswith("_test_scores"):
            curves[f"baseline {key.removesuffix('_test_scores')}"] = scores
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    roc_ax, pr_ax = fig.subplots(1, 2)
    for name, scores in curves.items():
        fpr, tpr = roc_curve(test.anomaly, scores)
        roc_ax.plot(fpr, tpr, label=name)
        precision, recall = pr_curve(test.anomaly, scores)
        pr_ax.plot(np.r_[0.0, recall], np.r_[1.0, precision], label=name)
    roc_ax.plot([0, 1], [0, 1], color="grey", ls=":")
    roc_ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0.4, 1.02))
    roc_ax.legend(fontsize=8)
    pr_ax.legend(fontsize=8)
    return fig


def confusion(run: SeedRun) -> Figure:
    """2x2 confusion matrix, rows = truth, columns = prediction, anomaly positive."""
    c = run.test["confusion"]
    grid = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]])
    fig = Figure(figsize=(4.6, 4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid, cmap="Blues")
    names = ["normal", "anomaly"]
    ax.set_xticks([0, 1], [f"predicted {n}" for n in names])
    ax.set_yticks([0, 1], [f"true {n}" for n in names])
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, str(value), ha="center", va="center",
                color="white" if value > grid.max() / 2 else "black", fontsize=14)
    return fig


def reconstructions(result: RunResult, per_kind: int = 3) -> Figure:
    """Test beats with their reconstruction and the error between them shaded."""
    run = result.runs[0]
    test = result.prepared.splits["test"]
    x = result.prepared.scaled["test"]
    picks = [*np.flatnonzero(~test.anomaly)[:per_kind], *np.flatnonzero(test.anomaly)[:per_kind]]
    recon = run.nets.autoencoder.predict(x[picks], verbose=0)
    fig = Figure(figsize=(12, 5.5), layout="constrained")
    axes = fig.subplots(2, per_kind, sharey=True).ravel()
    for ax, index, rec in zip(axes, picks, recon, strict=False):
        ax.plot(x[index], color="#2b7bba", lw=1, label="original")
        ax.plot(rec, color="#d7301f", lw=1, label="reconstruction")
        ax.fill_between(np.arange(x.shape[1]), x[index], rec, color="#fdae61", alpha=0.5)
        kind = "abnormal" if test.anomaly[index] else "normal"
        ax.set_title(f"{kind}: error {run.errors['test'][index]:.4f}", fontsize=9)
    fig.axes[0].legend(fontsize=8)
    return fig
