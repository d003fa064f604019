"""Configuration sources, validation messages, and the ``serve`` / ``token`` commands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from known_faces.paths import default_data_dir
from known_faces.service import config
from known_faces.service.app import choose_broker
from known_faces.service.config import ConfigError, load_settings

from .helpers import Broker, MqttProbe, free_port, request, wait_until


def write(path: Path, text: str) -> Path:
    """Write a file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_configuration() -> None:
    settings = load_settings(environ={})
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8066)
    assert settings.data_dir == default_data_dir()
    assert settings.match_threshold == 0.55
    assert settings.snapshot_topics == ("frigate/+/person/snapshot",)
    broker = asyncio.run(choose_broker(settings, None))
    assert (broker.host, broker.port, broker.tls) == ("127.0.0.1", 1883, False)


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    file = write(tmp_path / "options.yaml",
                 "match_threshold: 0.6\nmargin: 0.1\nmqtt_host: file-host\nhttp_port: 9000\n")
    environ = {"KNOWN_FACES_MARGIN": "0.2", "KNOWN_FACES_MQTT_HOST": "env-host",
               "KNOWN_FACES_SNAPSHOT_TOPICS": "a/+/snap, b/+/snap"}
    settings = load_settings(file, {"mqtt_host": "flag-host", "http_port": None},
                             environ=environ)
    assert settings.match_threshold == 0.6
    assert settings.margin == 0.2
    assert settings.mqtt_host == "flag-host"
    assert settings.http_port == 9000
    assert settings.snapshot_topics == ("a/+/snap", "b/+/snap")


def test_environment_lists_as_yaml_and_camera_overrides() -> None:
    environ = {"KNOWN_FACES_CAMERAS": '[{"name": "drive", "match_threshold": 0.7}]'}
    settings = load_settings(environ=environ)
    assert settings.cameras["drive"].match_threshold == 0.7
    assert settings.cameras["drive"].margin is None


def test_tls_port_default() -> None:
    settings = load_settings(environ={"KNOWN_FACES_MQTT_HOST": "broker.lan",
                                      "KNOWN_FACES_MQTT_TLS": "true"})
    broker = asyncio.run(choose_broker(settings, None))
    assert (broker.host, broker.port, broker.tls) == ("broker.lan", 8883, True)


@pytest.mark.parametrize(("text", "message"), [
    ("match_threshold: 1.5", "invalid option 'match_threshold': value must be at most 1"),
    ("margin: lots", "invalid option 'margin'"),
    ("log_level: loud", "invalid option 'log_level'"),
    ("cameras: [{name: door, margin: 2}]", "invalid option 'cameras.0.margin'"),
    ("cameras: [{name: 'front door'}]", "invalid option 'cameras.0.name'"),
    ("snapshot_topics: ['frigate/#']", "invalid option 'snapshot_topics.0'"),
    ("topic_prefix: 'a/+/b'", "invalid option 'topic_prefix'"),
    ("mqtt_port: 70000", "invalid option 'mqtt_port'"),
    ("match_treshold: 0.5", "unknown option 'match_treshold'"),
    ("embedder_preprocessing: 'YUV,0,1'", "invalid option 'embedder_preprocessing'"),
    ("embedder_preprocessing: 'RGB,127.5,0'", "invalid option 'embedder_preprocessing'"),
    ("mode: precise", "invalid option 'mode'"),
    ("- just a list", "must hold a mapping"),
    ("key: [unclosed", "is not valid YAML"),
])
def test_invalid_option_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path / "bad.yaml", text), environ={})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_invalid_environment_value_is_named() -> None:
    with pytest.raises(ConfigError, match="invalid option 'detector_size'"):
        load_settings(environ={"KNOWN_FACES_DETECTOR_SIZE": "huge"})


def test_supervisor_options_and_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As an add-on, /data/options.json is read and /data is the data dir (paths redirected)."""
    options = write(tmp_path / "options.json", json.dumps({"match_threshold": 0.7,
                                                          "cameras": []}))
    monkeypatch.setattr(config, "SUPERVISOR_OPTIONS", options)
    monkeypatch.setattr(config, "SUPERVISOR_DATA_DIR", tmp_path)
    settings = load_settings(environ={"SUPERVISOR_TOKEN": "x"})
    assert settings.match_threshold == 0.7
    assert settings.data_dir == tmp_path
    assert load_settings(environ={}).match_threshold == 0.55


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``known-faces`` in a subprocess; the exit status is the caller's to check."""
    return subprocess.run([sys.executable, "-m", "known_faces.cli", *args], check=False,
                          capture_output=True, text=True, timeout=120)


def test_serve_refuses_an_invalid_option_with_one_message(tmp_path: Path) -> None:
    result = run_cli("serve", "--config", str(write(tmp_path / "o.yaml", "margin: 3")))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "known-faces serve: invalid option 'margin': value must be at most 1 (got 3)")


def test_token_is_stable_until_rotated(tmp_path: Path) -> None:
    first = run_cli("token", "--data-dir", str(tmp_path)).stdout.strip()
    assert len(first) >= 32
    assert run_cli("token", "--data-dir", str(tmp_path)).stdout.strip() == first
    assert oct((tmp_path / "token").stat().st_mode & 0o777) == "0o600"
    rotated = run_cli("token", "--data-dir", str(tmp_path), "--rotate").stdout.strip()
    assert rotated not in ("", first)


def test_serve_command_runs_and_stops_cleanly(broker: Broker, tmp_path: Path) -> None:
    """The README's run command path: flags override, health answers, SIGTERM says offline."""
    port = free_port()
    probe = MqttProbe(broker.port, "kf_serve_cli/status")
    env = {"KNOWN_FACES_TOPIC_PREFIX": "kf_serve_cli", "KNOWN_FACES_HTTP_PORT": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "known_faces.cli", "serve", "--mqtt-host", "127.0.0.1",
         "--mqtt-port", str(broker.port), "--http-host", "127.0.0.1", "--http-port", str(port),
         "--data-dir", str(tmp_path)],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = wait_until(lambda: _health(port), 60, step=0.2)
        assert health["mqtt"] == "connected"
        probe.wait_for(lambda m: m.payload == b"online")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        log = proc.stdout.read() if proc.stdout else ""
        probe.wait_for(lambda m: m.payload == b"offline")
    finally:
        proc.kill()
        probe.close()
    token = (tmp_path / "token").read_text().strip()
    assert log.count(token) == 1, "the token is printed once, on first start"


def _health(port: int) -> dict | None:
    try:
        answer = request("GET", f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
    except OSError:
        return None
    return answer.json() if answer.status == 200 and answer.json()["mqtt"] == "connected" else None


def test_embedder_options_from_the_environment() -> None:
    """The add-on option and the CLI's variable share a name: KNOWN_FACES_EMBEDDER_FILE."""
    settings = load_settings(environ={"KNOWN_FACES_EMBEDDER_FILE": "/share/m.onnx",
                                      "KNOWN_FACES_EMBEDDER_PREPROCESSING": "bgr, 127.5, 127.5"})
    assert settings.embedder_file == Path("/share/m.onnx")
    assert settings.embedder_preprocessing == "BGR,127.5,127.5"
    assert load_settings(environ={}).embedder_file is None


def test_mode_defaults_to_accurate_and_takes_fast() -> None:
    """Fusion is on unless the user asks for MobileFaceNet alone (option, variable)."""
    assert load_settings(environ={}).mode == "accurate"
    assert load_settings(environ={"KNOWN_FACES_MODE": "fast"}).mode == "fast"
