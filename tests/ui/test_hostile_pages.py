"""Hostile requests to the web UI's own routes (pages, feed, images, login): a 4xx or a page,
never a server error, and the gallery unchanged; a hostile name is text on every page."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.service.helpers import ServiceRunner, enroll

from .conftest import Ui
from .test_access import session_cookie
from .test_people import OBAMA_1

PATHS = ["/events/feed?after=%FF%FE", "/events/feed?after=99999999999999999999999",
         "/events/feed?after=-1&status=%00", "/events/0/crop.jpg", "/events/%FF/crop.jpg",
         "/events/99999999999999999999/crop.jpg", "/cameras/..%2F..%2Fetc/snapshot.jpg",
         "/cameras/nobody/snapshot.jpg", "/cameras/" + "x" * 70 + "/snapshot.jpg",
         "/people/%00", "/people/nobody", "/people/" + "%C3%A9" * 300,
         "/events?camera=%3Cscript%3E&person=%FF&status=known%00", "/static/../token",
         "/static/%2e%2e/%2e%2e/gallery.db", "/nothing/here"]


def raw(runner: ServiceRunner, method: str, path: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request with the path and headers sent as given."""
    connection = http.client.HTTPConnection("127.0.0.1", runner.service.http_port, timeout=20)
    connection.putrequest(method, path, skip_accept_encoding=True)
    for key, value in (headers or {}).items():
        connection.putheader(key, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    answer = connection.getresponse()
    status, data = answer.status, answer.read()
    connection.close()
    return status, data


@pytest.mark.parametrize("path", PATHS)
def test_hostile_paths_get_a_client_error(start_service: Callable[..., ServiceRunner],
                                          photo: Callable[[str], bytes], path: str) -> None:
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    cookie = session_cookie(runner)
    status, body = raw(runner, "GET", path, headers={"Cookie": cookie})
    assert status < 500, (status, body[:200])
    assert b"Traceback" not in body
    assert b"<script>" not in body
    if path.startswith("/static/"):
        assert status == 404  # nothing outside the static folder is served
    assert [p["person"] for p in runner.http("GET", "/people").json()["people"]] == [
        "barack_obama"]


@pytest.mark.parametrize("body", [b"", b"token", b"token=%FF%FE", b"\xff\xfe" * 100,
                                  b"token=" + b"a" * 20000, b"token=a&token=b"])
def test_hostile_logins_are_refused_cleanly(start_service: Callable[..., ServiceRunner],
                                            body: bytes) -> None:
    runner = start_service()
    status, answer = raw(runner, "POST", "/login", body,
                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status in (401, 413), (status, answer[:200])


@pytest.mark.parametrize(("camera", "body", "status"), [
    ("porch", b"{not json", 400), ("porch", b'{"face": 0}', 400),
    ("porch", b'{"face": "0", "name": "Ann"}', 404), ("porch", b'{"face": 7, "name": "Ann"}', 404),
    ("porch", b'{"face": true, "name": "Ann"}', 404), ("porch", b'{"face": 0, "name": "a/b"}', 400),
    ("nowhere", b'{"face": 0, "name": "Ann"}', 404), ("..", b'{"face": 0, "name": "Ann"}', 404),
])
def test_hostile_camera_enrollments_change_nothing(
        start_service: Callable[..., ServiceRunner], photo: Callable[[str], bytes],
        camera: str, body: bytes, status: int) -> None:
    runner = start_service()
    runner.http("POST", "/recognize?camera=porch&publish=true", photo(OBAMA_1))
    cookie = session_cookie(runner)
    page = raw(runner, "GET", "/cameras", headers={"Cookie": cookie})[1]
    csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
    answer = raw(runner, "POST", f"/cameras/{camera}/enroll", body,
                 {"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert answer[0] == status, answer
    assert runner.http("GET", "/people").json()["people"] == []


def test_cookies_and_headers_that_are_not_utf8(start_service: Callable[..., ServiceRunner]
                                               ) -> None:
    runner = start_service()
    connection = http.client.HTTPConnection("127.0.0.1", runner.service.http_port, timeout=20)
    for header in (b"Cookie: known_faces_session=\xff\xfe.\xc0\xaf",
                   b"X-CSRF-Token: \xff", b"Cookie: known_faces_session=1.a; =; ;;"):
        connection.connect()
        connection.send(b"GET /events HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
        answer = http.client.HTTPResponse(connection.sock)
        answer.begin()
        assert answer.status in (303, 400), header
        answer.read()
        connection.close()


def test_a_hostile_name_is_text_on_every_page(start_service: Callable[..., ServiceRunner],
                                              open_ui: Callable[..., Ui],
                                              photo: Callable[[str], bytes]) -> None:
    runner = start_service()
    name = "<img src=x onerror=alert(1)> & \"Bobby\" 'Tables'"
    created = runner.http("POST", "/people", json.dumps({"name": name}).encode(),
                          headers={"Content-Type": "application/json"})
    assert created.status == 201, created.body
    slug = created.json()["person"]
    assert runner.http("POST", f"/people/{slug}/faces", photo(OBAMA_1)).status == 201
    ui = open_ui(runner)
    ui.login(runner.service.token)
    for path in ("", f"people/{slug}", "events", "visitors"):
        page = ui.go(path)
        assert page.locator("main img[src='x']").count() == 0
    ui.go("")
    expect(ui.page.get_by_role("link", name=name)).to_be_visible()
    assert ui.errors == [], ui.errors
