"""docker-compose.yml and the Dockerfiles, checked without a Docker engine.

``docker-compose config`` (Debian's docker-compose 1.29) validates and renders the file;
the rendered services are then checked against what the issue asks and against the real
command lines of ``ecg-detector`` and ``ecg-replay`` (their own argument parsers), so the
compose file cannot drift from the programs it runs. Images are not built here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from detector.main import parse_args as detector_args
from producer.main import build_parser as replay_parser
from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DETECTOR_DOCKERFILE = ROOT / "docker" / "detector.Dockerfile"
TRAINER_DOCKERFILE = ROOT / "docker" / "trainer.Dockerfile"
SERVICES = {"kafka", "kafka-init", "trainer", "detector", "replay", "prometheus", "grafana"}
# Variables the file reads; cleared so that the caller's shell cannot change the result.
KNOBS = frozenset(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))


def compose_config(**env: str) -> dict[str, Any]:
    """The compose file as docker-compose renders it (variables interpolated)."""
    clean = {k: v for k, v in os.environ.items() if k not in KNOBS}
    result = subprocess.run(
        [require_tool("docker-compose"), "-f", str(COMPOSE), "config"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
        env={**clean, **env},
    )
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return dict(compose_config()["services"])


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def shell_script(service: dict[str, Any]) -> str:
    """The shell script a service runs, with compose's ``$$`` escapes undone."""
    assert service["entrypoint"][-1] == "-ec"
    (script,) = service["command"]
    return str(script).replace("$$", "$")


@pytest.mark.tool
def test_compose_file_is_valid() -> None:
    result = subprocess.run(
        [require_tool("docker-compose"), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.tool
def test_all_services_are_there(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


@pytest.mark.tool
def test_kafka_is_single_node_kraft_with_a_healthcheck(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:3.9")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


@pytest.mark.tool
def test_topics_are_created_with_the_configured_partitions() -> None:
    default = compose_config()["services"]["kafka-init"]
    assert default["environment"]["BEATS_PARTITIONS"] == "6"
    assert default["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert default["restart"] == "no"
    script = shell_script(default)
    for var in ("BEATS", "ALERTS", "DLQ"):
        assert f'create "${var}_TOPIC" "${var}_PARTITIONS"' in script
    custom = compose_config(BEATS_PARTITIONS="12")["services"]["kafka-init"]
    assert custom["environment"]["BEATS_PARTITIONS"] == "12"


@pytest.mark.tool
def test_topic_names_agree_between_init_detector_and_replay(services: dict[str, Any]) -> None:
    init = services["kafka-init"]["environment"]
    detector = services["detector"]["environment"]
    assert init["BEATS_TOPIC"] == detector["ECG_DETECTOR_TOPIC"] == "ecg.beats"
    assert init["ALERTS_TOPIC"] == detector["ECG_DETECTOR_ALERTS_TOPIC"] == "ecg.alerts"
    assert init["DLQ_TOPIC"] == detector["ECG_DETECTOR_DLQ_TOPIC"] == "ecg.beats.dlq"
    assert flag(services["replay"]["command"], "--topic") == init["BEATS_TOPIC"]


@pytest.mark.tool
def test_detector_scales(services: dict[str, Any]) -> None:
    detector = services["detector"]
    # A fixed name or a published host port would make a second replica fail to start.
    assert "container_name" not in detector
    assert "ports" not in detector
    assert detector["expose"] == [flag(detector["command"], "--metrics-port")]
    conditions = {name: d["condition"] for name, d in detector["depends_on"].items()}
    assert conditions == {"kafka": "service_healthy",
                          "kafka-init": "service_completed_successfully",
                          "trainer": "service_completed_successfully"}


@pytest.mark.tool
def test_detector_command_is_accepted_by_ecg_detector(services: dict[str, Any]) -> None:
    command = services["detector"]["command"]
    assert command[0] == "ecg-detector"
    args = detector_args(command[1:])
    assert args == {"bundle": "/models/run/bundle", "bootstrap_servers": "kafka:9092",
                    "metrics_host": "0.0.0.0", "metrics_port": 8000}


@pytest.mark.tool
def test_detector_settings_build_from_the_service(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from detector.settings import ENV_PREFIX, DetectorSettings, load_settings

    detector = services["detector"]
    for name, value in detector["environment"].items():
        assert name.startswith(ENV_PREFIX), name
        assert name.removeprefix(ENV_PREFIX).lower() in DetectorSettings.model_fields, name
        monkeypatch.setenv(name, str(value))
    # Exactly what the container's ecg-detector builds: flags over the environment.
    settings = load_settings(**detector_args(detector["command"][1:]))
    assert (settings.topic, settings.alerts_topic, settings.dlq_topic) == (
        "ecg.beats", "ecg.alerts", "ecg.beats.dlq")
    assert (settings.group, settings.policy, settings.metrics_port) == (
        "ecg-detector", "beat", 8000)


@pytest.mark.tool
def test_replay_settings_build_from_the_service(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from producer.main import settings_from

    replay = services["replay"]
    assert replay["command"][0] == "ecg-replay"
    for name, value in replay["environment"].items():
        assert name.startswith("ECG_REPLAY_"), name
        monkeypatch.setenv(name, str(value))
    settings = settings_from(replay["command"][1:])
    assert settings.bootstrap_servers == "kafka:9092"
    assert (settings.rate, settings.source, settings.split) == (250.0, "auto", "test")
    assert (settings.loop, settings.streams, settings.order) == (0, 8, "shuffle")  # 0: forever


@pytest.mark.tool
def test_replay_knobs_come_from_the_environment() -> None:
    replay = compose_config(REPLAY_RATE="40", REPLAY_SOURCE="/data/ecg.csv",
                            REPLAY_SPLIT="all")["services"]["replay"]
    args = vars(replay_parser().parse_args(replay["command"][1:]))
    assert (args["rate"], args["source"], args["split"]) == (40.0, "/data/ecg.csv", "all")


@pytest.mark.tool
def test_trainer_writes_the_bundle_the_detector_reads(services: dict[str, Any]) -> None:
    trainer, detector = services["trainer"], services["detector"]
    script = shell_script(trainer)
    assert "[ -f /models/run/bundle/bundle.json ]" in script  # only when missing
    (train_line,) = [line for line in script.splitlines() if "ecg-train" in line]
    train = shlex.split(train_line)
    assert train[:2] == ["exec", "ecg-train"]
    assert flag(train, "--config") == "$TRAIN_CONFIG"
    assert flag(train, "--out") + "/bundle" == flag(detector["command"], "--bundle")
    assert trainer["environment"]["TRAIN_CONFIG"] == "configs/training.yaml"
    assert trainer["restart"] == "no"
    assert "models:/models:rw" in trainer["volumes"]
    assert "models:/models:ro" in detector["volumes"]


@pytest.mark.tool
def test_trainer_command_is_accepted_by_ecg_train(services: dict[str, Any]) -> None:
    from training.cli import train_parser
    from training.config import load_config

    trainer = services["trainer"]
    (train_line,) = [ln for ln in shell_script(trainer).splitlines() if "ecg-train" in ln]
    config = trainer["environment"]["TRAIN_CONFIG"]
    argv = shlex.split(train_line.replace("$TRAIN_CONFIG", config))[2:]
    args = train_parser().parse_args(argv)
    assert str(args.out) == "/models/run"
    # The image runs from /app with configs/ copied in: the same relative path.
    assert (ROOT / config).is_file(), f"{config} (the trainer's config) does not exist"
    load_config(ROOT / config)


@pytest.mark.tool
def test_observability_services(services: dict[str, Any]) -> None:
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert [p["target"] for p in prometheus["ports"]] == [9090]
    assert [p["target"] for p in grafana["ports"]] == [3000]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert all("healthcheck" in services[s] for s in ("kafka", "prometheus", "grafana"))


def dockerfile(path: Path) -> str:
    return path.read_text()


def final_stage(text: str) -> str:
    return text.rsplit("\nFROM ", 1)[1]


def test_dockerfiles_run_as_the_same_non_root_user_with_a_healthcheck() -> None:
    for path in (DETECTOR_DOCKERFILE, TRAINER_DOCKERFILE):
        stage = final_stage(dockerfile(path))
        users = re.findall(r"^USER (\S+)", stage, re.MULTILINE)
        assert users and users[-1].split(":")[0] not in {"root", "0"}, path.name
        assert "--uid 10001" in stage, path.name  # shared volume: same uid writes and reads
        assert re.search(r"^HEALTHCHECK .*CMD", stage, re.MULTILINE | re.DOTALL), path.name


def test_detector_image_has_no_training_stack() -> None:
    text = dockerfile(DETECTOR_DOCKERFILE)
    installs = re.findall(r"pip install (.+)", text)
    assert installs == ['".${EXTRAS}"']
    assert 'ARG EXTRAS=""' in text
    assert "python:3.11-slim" in text
    assert "train" not in " ".join(installs)
    assert "http://127.0.0.1:8000/metrics" in text


def test_trainer_image_installs_train_and_data() -> None:
    assert 'pip install ".[train,data]"' in dockerfile(TRAINER_DOCKERFILE)


@pytest.mark.tool
def test_replay_image_adds_only_the_data_extra(services: dict[str, Any]) -> None:
    build = services["replay"]["build"]
    assert build["dockerfile"] == "docker/detector.Dockerfile"
    assert build["args"] == {"EXTRAS": "[data]"}
    assert "args" not in services["detector"]["build"]


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "artifacts", "runs", "**/__pycache__"} <= ignored
    text = dockerfile(DETECTOR_DOCKERFILE) + dockerfile(TRAINER_DOCKERFILE)
    copied = set(re.findall(r"^COPY (?:--chown=\S+ )?(\S+)", text, re.MULTILINE))
    copied |= {w for line in re.findall(r"^COPY (.+) \./$", text, re.MULTILINE)
               for w in line.split()}
    for source in copied - {"--from=build"}:
        assert source not in ignored, f"{source} is copied but ignored"
        assert (ROOT / source).exists(), f"COPY {source}: missing"
