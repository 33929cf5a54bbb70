"""The run report: PNG figures plus one self-contained ``report.html`` (PNGs inlined).

Shows what the notebook plotted, with the anomaly as the positive class: example
traces, loss curves of both stages, per-class error histograms with the threshold,
ROC and PR curves, the confusion matrix, original vs reconstructed beats, and the
baseline table.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and in CI


from training import figures
from training.baselines import HEADLINE

if TYPE_CHECKING:
    from training.pipeline import RunResult

LABELS = {"roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "f1": "F1", "precision": "Precision",
          "recall": "Recall", "false_alarm_rate": "False-alarm rate"}


def write_report(result: RunResult, out_dir: Path) -> Path:
    """Write ``out_dir/figures/*.png`` and ``out_dir/report.html``; returns the HTML path."""
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    sections: list[str] = []
    for name, title, fig in figures.all_figures(result):
        path = fig_dir / f"{name}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        sections.append(_figure_html(title, path))
    page = _page(result.metrics, sections)
    target = out_dir / "report.html"
    target.write_text(page, encoding="utf-8")
    return target


def _figure_html(title: str, path: Path) -> str:
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<section><h2>{html.escape(title)}</h2>"
            f"<img alt='{html.escape(title)}' src='data:image/png;base64,{encoded}'></section>")


def _page(metrics: dict[str, Any], sections: list[str]) -> str:
    t = metrics["test"]
    threshold = metrics["threshold"]
    c = t["confusion"]
    head = (
        f"<p>Data: {html.escape(metrics['data']['source'])} ({metrics['data']['beats']} beats, "
        f"split {metrics['data']['split']}). Anomaly = positive class. Model: "
        f"<b>{html.escape(metrics['architecture'])}</b>, bundle "
        f"<code>{html.escape(str(metrics['bundle']['model_version']))}</code>.</p>"
        f"<p>Threshold <b>{html.escape(threshold['rule'])}</b> = {threshold['value']:.6f}, "
        f"chosen on training/validation beats only.</p>"
        f"<p>Test: ROC-AUC <b>{t['roc_auc']:.4f}</b>, PR-AUC <b>{t['pr_auc']:.4f}</b>, "
        f"F1 <b>{t['f1']:.4f}</b>, precision {t['precision']:.4f}, recall {t['recall']:.4f}, "
        f"specificity {t['specificity']:.4f}, accuracy {t['accuracy']:.4f}, false-alarm rate "
        f"{t['false_alarm_rate']:.4f} (TP {c['tp']}, FP {c['fp']}, TN {c['tn']}, FN {c['fn']}).</p>"
    )
    tables = _comparison_table(metrics) + _class_table(t["per_class_recall"])
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.88em}"
             "td,th{border:1px solid #bbb;padding:4px 7px;text-align:right}"
             "td{white-space:nowrap}"
             "th:first-child,td:first-child{text-align:left}"
             "img{max-width:100%}section{margin:2em 0}h2{border-bottom:1px solid #ddd}")
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            "<title>ECG5000 autoencoder training report</title>"
            f"<style>{style}</style></head><body><h1>ECG5000 autoencoder training report</h1>"
            f"{head}{tables}{''.join(sections)}</body></html>\n")


def _comparison_table(metrics: dict[str, Any]) -> str:
    keys = list(HEADLINE)
    header = "".join(f"<th>{LABELS[k]}</th>" for k in keys)
    arch = metrics["architecture"]
    rows = [_table_row(f"{arch} (mean ± std, {len(metrics['seeds'])} seeds)", metrics["spread"],
                       keys, metrics["timings"].get("default_train_seconds_mean"))]
    for seed, m in metrics["seeds"].items():
        rows.append(_table_row(f"{arch} seed {seed}",
                               {k: {"mean": m[k], "std": None} for k in keys}, keys,
                               m["train_seconds"]))
    for name, entry in metrics["baselines"].items():
        rows.append(_table_row(f"baseline: {name} (mean ± std)", entry["summary"], keys,
                               entry["train_seconds_mean"]))
    return ("<h2>Default model vs baselines (test split)</h2>"
            f"<table><tr><th>model</th>{header}<th>train s / seed</th></tr>{''.join(rows)}"
            "</table><p>Baselines use the same split, scaler and threshold rule; the seed "
            "baselines train the notebook's architecture with the same fit settings "
            "(<i>seed_stage2</i> adds the notebook's stage 2).</p>")


def _table_row(name: str, summary: dict[str, Any], keys: list[str],
               seconds: float | None) -> str:
    cells = []
    for k in keys:
        m = summary[k]
        text = f"{m['mean']:.4f}" + (f" ± {m['std']:.4f}" if m.get("std") is not None else "")
        cells.append(f"<td>{text}</td>")
    cells.append(f"<td>{seconds:.1f}</td>" if seconds is not None else "<td></td>")
    return f"<tr><td>{html.escape(name)}</td>{''.join(cells)}</tr>"


def _class_table(per_class: dict[str, Any]) -> str:
    if not per_class:
        return "<p>The data source has no class labels (1/0 only): no per-class recall.</p>"
    rows = "".join(
        f"<tr><td>{cls} {html.escape(v['name'])}</td><td>{v['n']}</td><td>{v['flagged']}</td>"
        f"<td>{v['recall']:.4f}</td></tr>" for cls, v in per_class.items())
    return ("<h2>Recall per abnormal class (test split)</h2><table><tr><th>class</th>"
            f"<th>beats</th><th>flagged</th><th>recall</th></tr>{rows}</table>")
