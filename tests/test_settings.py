"""Settings: precedence flags > env > YAML > defaults, and clear errors before connecting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detector.main import main, parse_args
from detector.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_and_shipped_config_load() -> None:
    settings = load_settings(config_file=ROOT / "configs" / "detector.yaml")
    assert settings.topic == "ecg.beats" and settings.group == "ecg-detector"
    assert settings.alerts_topic == "ecg.alerts" and settings.dlq_topic == "ecg.beats.dlq"
    assert settings.policy == "beat" and settings.security_protocol == "PLAINTEXT"


def test_flags_override_env_override_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "d.yaml"
    config.write_text("topic: from-yaml\ngroup: g-yaml\nmax_batch: 7\npolicy: episode\n")
    monkeypatch.setenv("ECG_DETECTOR_GROUP", "g-env")
    monkeypatch.setenv("ECG_DETECTOR_MAX_BATCH", "9")
    overrides = parse_args(["--config", str(config), "--max-batch", "11", "--metrics-port", "0"])
    settings = load_settings(**overrides)
    assert settings.topic == "from-yaml"  # only in the file
    assert settings.group == "g-env"  # env beats the file
    assert settings.max_batch == 11  # the flag beats env
    assert settings.policy == "episode" and settings.metrics_port == 0


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.topic = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "sasl_username"),
        ({"security_protocol": "SASL_PLAINTEXT"}, "needs sasl_mechanism"),
        ({"sasl_mechanism": "PLAIN"}, "security_protocol is PLAINTEXT"),
        ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "ssl_cafile"),
        ({"security_protocol": "KERBEROS"}, "security_protocol"),
        ({"policy": "episode", "episode_k": 6, "episode_n": 5}, "episode_k"),
        ({"max_batch": 0}, "max_batch"),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_invalid_settings_name_the_problem(values: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(**values)


def test_secret_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECG_DETECTOR_SASL_PASSWORD", "hunter2")
    settings = load_settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                             sasl_username="det")
    assert "hunter2" not in repr(settings)
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "hunter2"


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config_file=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_batch: [unclosed\n")
    with pytest.raises(SettingsError, match=r"bad\.yaml"):
        load_settings(config_file=bad)


def test_cli_exits_2_on_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--security-protocol", "SASL_SSL", "--metrics-port", "0"]) == 2
    assert "sasl_mechanism" in capsys.readouterr().err


def test_cli_exits_2_on_missing_bundle(tmp_path: Path) -> None:
    assert main(["--bundle", str(tmp_path / "nope"), "--metrics-port", "0"]) == 2


def test_importing_main_does_not_import_tensorflow() -> None:
    code = "import sys, detector.main; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
