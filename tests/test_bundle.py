"""The model bundle: round trip through write_bundle/load_bundle and every validation error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detector.bundle import BundleError, load_bundle
from detector.scoring import BundleScorer

pytestmark = pytest.mark.slow  # the session's trained bundle comes from a real training run


@pytest.fixture
def bundle_copy(trained_bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(trained_bundle, target)
    return target


def _edit_manifest(bundle: Path, **changes: object) -> None:
    path = bundle / "bundle.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def test_round_trip_manifest_holds_what_the_issue_lists(trained_bundle: Path) -> None:
    bundle = load_bundle(trained_bundle)
    m = bundle.manifest
    assert m.schema_version == 1
    assert m.window_length == 140
    assert m.model_version and m.created_at
    assert m.architecture == "dense"
    assert m.scaler.kind == "minmax" and len(m.scaler.center) == 140
    assert m.threshold.rule in ("mean_std", "percentile", "false_alarm_rate", "best_f1")
    assert m.threshold.value > 0
    assert len(m.training_data["sha256"]) == 64
    assert m.config["model"]["architecture"] == "dense"
    assert 0.9 < m.metrics["test"]["roc_auc"] <= 1.0
    assert set(m.files) == {"model.tflite", "model.keras"}


def test_round_trip_scores_match_the_recorded_test_metrics(trained_bundle: Path) -> None:
    from training.data import load_dataset, split
    from training.evaluate import detection_metrics

    bundle = load_bundle(trained_bundle)
    test = split(load_dataset("ucr"), bundle.manifest.training_data["split_seed"])["test"]
    scores = BundleScorer(bundle).score(test.X)
    metrics = detection_metrics(test.anomaly, scores.scores, bundle.threshold)
    assert metrics["roc_auc"] == pytest.approx(bundle.manifest.metrics["test"]["roc_auc"],
                                               abs=1e-4)
    assert metrics["f1"] == pytest.approx(bundle.manifest.metrics["test"]["f1"], abs=2e-3)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle directory does not exist"):
        load_bundle(tmp_path / "nope")


@pytest.mark.parametrize("name", ["bundle.json", "model.tflite", "model.keras"])
def test_missing_file(bundle_copy: Path, name: str) -> None:
    (bundle_copy / name).unlink()
    with pytest.raises(BundleError, match=rf"{name}: missing file"):
        load_bundle(bundle_copy)


def test_corrupt_manifest(bundle_copy: Path) -> None:
    (bundle_copy / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"bundle\.json: corrupt file: not valid JSON"):
        load_bundle(bundle_copy)


def test_corrupt_model_checksum(bundle_copy: Path) -> None:
    model = bundle_copy / "model.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.tflite: corrupt file: SHA-256"):
        load_bundle(bundle_copy)


def test_corrupt_model_that_matches_its_checksum(bundle_copy: Path) -> None:
    # A consistent manifest around garbage: LiteRT must reject it at load time.
    from detector.bundle import sha256_file

    (bundle_copy / "model.tflite").write_bytes(b"not a flatbuffer" * 10)
    manifest = json.loads((bundle_copy / "bundle.json").read_text())
    manifest["files"]["model.tflite"] = sha256_file(bundle_copy / "model.tflite")
    (bundle_copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="LiteRT cannot load it"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_schema_version(bundle_copy: Path, version: object) -> None:
    _edit_manifest(bundle_copy, schema_version=version)
    with pytest.raises(BundleError, match="unknown schema version"):
        load_bundle(bundle_copy)


def test_window_length_mismatch_with_the_stream(bundle_copy: Path) -> None:
    with pytest.raises(BundleError, match="window length mismatch: bundle has 140, the stream"):
        load_bundle(bundle_copy, expected_window=100)


def test_window_length_mismatch_of_a_100_sample_bundle(bundle_copy: Path) -> None:
    # A consistent bundle for 100-sample windows loaded by a 140-sample stream.
    manifest = json.loads((bundle_copy / "bundle.json").read_text())
    manifest["window_length"] = 100
    for key in ("center", "scale"):
        manifest["scaler"][key] = manifest["scaler"][key][:100]
    (bundle_copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="window length mismatch: bundle has 100, the stream "
                                          "carries 140"):
        load_bundle(bundle_copy)


def test_window_length_inconsistent_inside_the_manifest(bundle_copy: Path) -> None:
    _edit_manifest(bundle_copy, window_length=100)
    with pytest.raises(BundleError, match="scaler has 140 values but window_length is 100"):
        load_bundle(bundle_copy)


def test_invalid_threshold_in_manifest(bundle_copy: Path) -> None:
    manifest = json.loads((bundle_copy / "bundle.json").read_text())
    manifest["threshold"]["value"] = -1
    (bundle_copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"invalid manifest: threshold\.value"):
        load_bundle(bundle_copy)


def test_litert_and_keras_agree_on_the_test_split(trained_bundle: Path) -> None:
    import keras

    from training.data import load_dataset, split

    bundle = load_bundle(trained_bundle)
    test = split(load_dataset("ucr"), bundle.manifest.training_data["split_seed"])["test"]
    scaled = bundle.manifest.scaler.transform(test.X)
    model = keras.models.load_model(trained_bundle / "model.keras", compile=False)
    keras_recon = np.asarray(model.predict(scaled, batch_size=1000, verbose=0), np.float64)
    keras_scores = np.mean(np.square(scaled - keras_recon), axis=1)
    litert_scores = BundleScorer(bundle).score(test.X).scores
    assert litert_scores.shape == (1000,)
    assert np.max(np.abs(litert_scores - keras_scores)) < 1e-5
