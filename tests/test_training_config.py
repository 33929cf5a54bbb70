"""The training configuration: YAML loading, overrides, and key-naming errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import ConfigError, TrainingConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_yaml_is_the_defaults() -> None:
    assert load_config(ROOT / "configs" / "training.yaml") == TrainingConfig()


def test_overrides_apply_dotted_keys(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("fit:\n  epochs: 50\nthreshold:\n  rule: mean_std\n")
    cfg = load_config(file, {"fit.epochs": 7, "fit.seeds": [3, 4, 5], "model.latent": 4})
    assert cfg.fit.epochs == 7 and cfg.fit.seeds == (3, 4, 5)
    assert cfg.threshold.rule == "mean_std" and cfg.model.latent == 4


def test_unknown_key_names_key_and_allowed_keys(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("fit:\n  epoch: 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    message = str(info.value)
    assert "unknown key 'fit.epoch'" in message
    assert "allowed keys: epochs, patience, batch_size" in message
    assert str(file) in message


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'trainer' \(allowed keys: data, model"):
        load_config(None, {"trainer.epochs": 3})


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"threshold.rule": "max"}, "threshold.rule: Input should be 'mean_std', 'percentile', "
         "'false_alarm_rate' or 'best_f1' (allowed values: 'mean_std', 'percentile', "
         "'false_alarm_rate', 'best_f1')"),
        ({"model.architecture": "lstm"}, "(allowed values: 'dense', 'seed')"),
        ({"evaluation.baselines": ["pca", "knn"]},
         "evaluation.baselines.1: Input should be 'seed', 'seed_stage2', 'pca' or 'iforest' "
         "(allowed values: 'seed', 'seed_stage2', 'pca', 'iforest')"),
        ({"fit.epochs": 0}, "fit.epochs: Input should be greater than 0"),
        ({"fit.batch_size": "many"}, "fit.batch_size: Input should be a valid integer"),
    ],
)
def test_bad_values_name_key_and_allowed_values(override: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, override)
    assert expected in str(info.value)


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fit: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(top)


def test_config_is_frozen() -> None:
    cfg = TrainingConfig()
    with pytest.raises(Exception, match="frozen"):
        cfg.fit.epochs = 3  # type: ignore[misc]
