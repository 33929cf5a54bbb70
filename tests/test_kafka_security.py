"""The shared Kafka security settings: one check and one mapping for detector and producer."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.kafka_io import consumer_config
from detector.kafka_security import KafkaSecurity
from detector.settings import SettingsError, load_settings
from producer.delivery import producer_config
from producer.main import main as replay_main
from producer.settings import ReplaySettings


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "p"},
         "SASL_SSL needs sasl_mechanism"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
         "needs sasl_username and sasl_password"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u",
          "sasl_password": ""}, "needs sasl_username and sasl_password"),
        ({"sasl_mechanism": "SCRAM-SHA-256"}, "sasl_mechanism is set but security_protocol"),
        ({"security_protocol": "SSL", "ssl_certfile": "/nonexistent/c.pem",
          "ssl_keyfile": "/nonexistent/k.pem"}, "ssl_certfile: /nonexistent/c.pem is not"),
    ],
)
def test_security_problems_name_the_fields(values: dict[str, str], message: str) -> None:
    problems = "; ".join(KafkaSecurity(**values).security_problems())  # type: ignore[arg-type]
    assert message in problems


def test_cert_without_key_is_a_problem(pem: Path) -> None:
    problems = KafkaSecurity(security_protocol="SSL", ssl_certfile=pem).security_problems()
    assert problems == ["ssl_certfile and ssl_keyfile must be given together"]


def test_valid_security_has_no_problems(pem: Path) -> None:
    security = KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                             sasl_username="u", sasl_password="p",  # type: ignore[arg-type]
                             ssl_cafile=pem, ssl_certfile=pem, ssl_keyfile=pem)
    assert security.security_problems() == []


def test_security_kwargs_map_to_kafka_python_options(pem: Path) -> None:
    assert KafkaSecurity().security_kwargs() == {"security_protocol": "PLAINTEXT"}
    sasl_ssl = KafkaSecurity(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                             sasl_username="u", sasl_password="p",  # type: ignore[arg-type]
                             ssl_cafile=pem, ssl_check_hostname=False)
    assert sasl_ssl.security_kwargs() == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "u", "sasl_plain_password": "p",
        "ssl_check_hostname": False, "ssl_cafile": str(pem),
    }
    # TLS options are left out of a plaintext SASL connection.
    sasl = KafkaSecurity(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                         sasl_username="u", sasl_password="p",  # type: ignore[arg-type]
                         ssl_cafile=pem)
    assert "ssl_cafile" not in sasl.security_kwargs()


def test_both_settings_use_the_shared_check_and_kwargs(
    pem: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECG_DETECTOR_SASL_PASSWORD", "det-secret")
    monkeypatch.setenv("ECG_REPLAY_SASL_PASSWORD", "replay-secret")
    values = {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN",
              "sasl_username": "u", "ssl_cafile": str(pem)}
    detector = load_settings(**values)
    replay = ReplaySettings(**values)  # type: ignore[arg-type]
    assert "det-secret" not in repr(detector) and "replay-secret" not in repr(replay)
    assert consumer_config(detector)["sasl_plain_password"] == "det-secret"
    assert producer_config(replay)["sasl_plain_password"] == "replay-secret"
    assert producer_config(replay)["ssl_cafile"] == str(pem)
    with pytest.raises(SettingsError, match="ssl_keyfile"):
        load_settings(ssl_keyfile="/nonexistent/k.pem")
    with pytest.raises(ValueError, match="ssl_keyfile"):
        ReplaySettings(ssl_keyfile="/nonexistent/k.pem")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--security-protocol", "SASL_SSL"], {}, "SASL_SSL needs sasl_mechanism"),
        (["--security-protocol", "SASL_PLAINTEXT", "--sasl-mechanism", "PLAIN",
          "--sasl-username", "u"], {}, "needs sasl_username and sasl_password"),
        ([], {"ECG_REPLAY_SECURITY_PROTOCOL": "SSL", "ECG_REPLAY_SSL_CAFILE": "/nonexistent/ca"},
         "ssl_cafile: /nonexistent/ca is not a readable file"),
        (["--sasl-mechanism", "PLAIN"], {}, "security_protocol is PLAINTEXT"),
    ],
)
def test_replay_rejects_bad_security_with_exit_2(
    argv: list[str], env: dict[str, str], message: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        replay_main(["--limit", "1", *argv])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
