"""The console scripts ``ecg-train`` and ``ecg-evaluate``, run as installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detector.bundle import load_bundle
from training.cli import train_main

BIN = Path(sys.executable).parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny but complete ``ecg-train`` run: 2 seeds, all baselines, the report."""
    out = tmp_path_factory.mktemp("run")
    done = subprocess.run(
        [str(BIN / "ecg-train"), "--config", "configs/training.yaml", "--out", str(out),
         "--epochs", "3", "--seeds", "0,1", "--batch-size", "256"],
        cwd=Path(__file__).resolve().parents[1], env=ENV, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (out / "stdout.txt").write_text(done.stdout)
    return out


@pytest.mark.slow
def test_train_writes_bundle_metrics_and_report(run_dir: Path) -> None:
    stdout = (run_dir / "stdout.txt").read_text()
    assert "stage1 epoch   3/3" in stdout  # progress per epoch
    assert "baseline iforest" in stdout and "ROC-AUC" in stdout  # the summary table
    assert "Saved artifact" not in stdout
    bundle = load_bundle(run_dir / "bundle")
    assert bundle.manifest.config["fit"]["epochs"] == 3  # the flag overrode the file
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("roc_auc", "pr_auc", "f1", "false_alarm_rate", "per_class_recall"):
        assert key in metrics["test"]
    assert set(metrics["test"]["per_class_recall"]) == {"2", "3", "4", "5"}
    assert set(metrics["baselines"]) == {"seed", "seed_stage2", "pca", "iforest"}
    assert set(metrics["seeds"]) == {"0", "1"}
    assert metrics["threshold"]["rule"] == "best_f1" and metrics["threshold"]["value"] > 0
    assert metrics["bundle"]["model_version"] == bundle.version
    page = (run_dir / "report.html").read_text()
    assert page.count("src='data:image/png;base64,") == 6
    assert "src='http" not in page and "src=\"http" not in page  # self-contained
    assert len(list((run_dir / "figures").glob("*.png"))) == 6


@pytest.mark.slow
def test_evaluate_rescores_through_litert_without_tensorflow(run_dir: Path) -> None:
    out = run_dir / "rescored.json"
    code = (
        "import sys\n"
        "from training.cli import evaluate_main\n"
        f"rc = evaluate_main(['--bundle', {str(run_dir / 'bundle')!r}, '--out', {str(out)!r}])\n"
        "assert rc == 0, rc\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rescored = json.loads(out.read_text())["metrics"]
    trained = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert rescored["roc_auc"] == pytest.approx(trained["roc_auc"], abs=1e-4)
    assert rescored["confusion"]["tp"] + rescored["confusion"]["fn"] == \
        trained["confusion"]["tp"] + trained["confusion"]["fn"]


@pytest.mark.slow
def test_evaluate_console_script_on_a_bad_bundle(tmp_path: Path) -> None:
    done = subprocess.run([str(BIN / "ecg-evaluate"), "--bundle", str(tmp_path / "none")],
                          env=ENV, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "bundle directory does not exist" in done.stderr


def test_bad_config_key_names_key_and_allowed_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("fit:\n  epoch: 3\n")
    assert train_main(["--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'fit.epoch'" in err and "allowed keys: epochs, patience" in err
    assert not (tmp_path / "out").exists()


def test_bad_flag_value_names_allowed_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train_main(["--out", str(tmp_path), "--threshold-rule", "max"]) == 2
    err = capsys.readouterr().err
    assert "threshold.rule" in err and "'false_alarm_rate', 'best_f1'" in err


def test_bad_data_file_is_reported_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "ecg.csv"
    data.write_text("1,2,3\n")
    assert train_main(["--out", str(tmp_path / "o"), "--data", str(data)]) == 2
    assert f"{data}:1: expected 141 columns, found 3" in capsys.readouterr().err
