"""Username/password and TLS against a real Mosquitto that requires both.

A throwaway CA signs the broker's certificate; the service trusts it through ``SSL_CERT_FILE``,
which Python's default TLS context honours, as a user's own CA bundle would be.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import Broker, ServiceRunner, mosquitto_binary

USER, PASSWORD = "known-faces", "s3cret-pass"


def openssl(*args: str, cwd: Path) -> None:
    """Run openssl quietly; fail the fixture on error."""
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Broker, Path]]:
    """A broker on TLS only, with a password file and no anonymous access; and its CA file."""
    binary = mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto is not installed (scripts/test installs it)")
    work = tmp_path_factory.mktemp("secure-broker")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=known-faces test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=work)
    (work / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=work)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem",
            cwd=work)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(work / "passwd"), USER, PASSWORD],
                   check=True, capture_output=True)
    (work / "passwd").chmod(0o600)
    broker = Broker(binary, work, (
        f"allow_anonymous false\npassword_file {work / 'passwd'}\n"
        f"cafile {work / 'ca.pem'}\ncertfile {work / 'server.pem'}\n"
        f"keyfile {work / 'server.key'}\n"))
    broker.start()
    yield broker, work / "ca.pem"
    broker.kill()


def test_tls_and_credentials_connect_and_recognise(
        secure_broker: tuple[Broker, Path], start_service: Callable[..., ServiceRunner],
        monkeypatch: pytest.MonkeyPatch, photo: Callable[[str], bytes]) -> None:
    broker, ca = secure_broker
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    runner = start_service(mqtt_port=broker.port, mqtt_tls=True, mqtt_username=USER,
                           mqtt_password=PASSWORD)
    assert runner.http("GET", "/health").json()["mqtt"] == "connected"
    answer = runner.http("POST", "/recognize?camera=tls&publish=true",
                         photo("people/joe_biden/joe_biden_1.jpg"))
    assert answer.status == 200
    assert runner.service.metrics.processed.get(camera="tls") == 1


@pytest.mark.parametrize("trust_ca", [True, False], ids=["wrong-password", "untrusted-cert"])
def test_refused_broker_keeps_http_up_and_reports_disconnected(
        secure_broker: tuple[Broker, Path], start_service: Callable[..., ServiceRunner],
        monkeypatch: pytest.MonkeyPatch, trust_ca: bool) -> None:
    broker, ca = secure_broker
    if trust_ca:
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    runner = start_service(mqtt_port=broker.port, mqtt_tls=True, mqtt_username=USER,
                           mqtt_password="wrong" if trust_ca else PASSWORD, wait_mqtt=False)
    time.sleep(1.5)
    health = runner.http("GET", "/health")
    assert (health.status, health.json()["mqtt"]) == (200, "disconnected")
    assert runner.http("GET", "/people").status == 200
