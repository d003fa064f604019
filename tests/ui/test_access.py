"""Who may use the web UI: through the Supervisor's ingress proxy (a stand-in here, see
``ingress_proxy``) with every URL under its prefix; ingress headers from any other address
refused; state-changing requests on browser credentials refused without the page's CSRF token."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Request, expect

from tests.service.helpers import Response, ServiceRunner, multipart, request

from .conftest import Ui
from .ingress_proxy import INGRESS_PATH, IngressProxy
from .test_people import OBAMA_1, loaded

JSON = {"Content-Type": "application/json"}
NEW_PERSON = json.dumps({"name": "Ann Example"}).encode()


@pytest.fixture
def proxy() -> Iterator[Callable[[ServiceRunner], IngressProxy]]:
    """An ingress proxy in front of a service, stopped after the test."""
    proxies: list[IngressProxy] = []

    def make(runner: ServiceRunner) -> IngressProxy:
        proxies.append(IngressProxy(runner.service.http_port).start())
        return proxies[-1]

    yield make
    for each in proxies:
        each.stop()


def test_the_panel_works_under_the_ingress_prefix(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        proxy: Callable[[ServiceRunner], IngressProxy], faces_dir: Path) -> None:
    # 127.0.0.1 plays the Supervisor's proxy address (172.30.32.2) for this service.
    runner = start_service(trusted_peers=frozenset({"127.0.0.1"}))
    ingress = proxy(runner)
    ui = open_ui(ingress.base)
    requested: list[str] = []
    ui.page.on("request", lambda r: requested.append(r.url) if isinstance(r, Request) else None)
    ui.go()
    # No token asked: Home Assistant signed the user in.
    expect(ui.page.get_by_role("heading", name="People", level=1)).to_be_visible()
    ui.page.get_by_label("Name").fill("Barack Obama")
    ui.page.get_by_label("Photo with one clear face").set_input_files(faces_dir / OBAMA_1)
    ui.page.get_by_role("button", name="Enroll").click()
    expect(ui.page.get_by_role("link", name="Barack Obama")).to_be_visible()
    ui.page.wait_for_load_state("networkidle")
    assert loaded(ui, "figure.face img") == 1
    ui.page.get_by_role("link", name="Barack Obama").click()
    expect(ui.page.get_by_role("heading", name="Barack Obama", level=1)).to_be_visible()
    ui.page.get_by_role("link", name="Events").click()
    expect(ui.page.get_by_role("heading", name="Events", level=1)).to_be_visible()
    ui.page.get_by_role("link", name="Calibration").click()
    expect(ui.page.locator("svg.chart").first).to_be_visible()
    ui.screenshot("ingress-calibration")
    prefix = f"http://127.0.0.1:{ingress.port}{INGRESS_PATH}/"
    assert requested
    assert [url for url in requested if not url.startswith(prefix)] == []
    assert re.fullmatch(re.escape(prefix) + "calibration", ui.page.url)
    assert ui.errors == [], ui.errors


def test_ingress_headers_from_another_address_are_refused(
        start_service: Callable[..., ServiceRunner]) -> None:
    # As under the Supervisor: only 172.30.32.2 is trusted, and this request comes from
    # 127.0.0.1, even with a valid token.
    runner = start_service(trusted_peers=frozenset({"172.30.32.2"}))
    base = f"http://127.0.0.1:{runner.service.http_port}"
    spoofed = {"X-Ingress-Path": INGRESS_PATH}
    for url, token in ((base + "/", None), (runner.url("/people"), None),
                       (runner.url("/people"), runner.service.token)):
        answer = request("GET", url, token=token, headers=spoofed)
        assert answer.status == 403, url
        assert answer.json()["error"] == "untrusted_proxy"
    assert request("GET", runner.url("/people"), token=runner.service.token).status == 200


def session_cookie(runner: ServiceRunner) -> str:
    """Sign in as the login form does; the ``Cookie`` header value it sets."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", runner.service.http_port, timeout=10)
    connection.request("POST", "/login", f"token={runner.service.token}",
                       {"Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    assert answer.status == 303
    cookie = answer.getheader("Set-Cookie") or ""
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    connection.close()
    return cookie.split(";", 1)[0]


def csrf_of(page: Response) -> str:
    """The CSRF token a page hands its scripts."""
    found = re.search(rb'<meta name="csrf-token" content="([^"]+)">', page.body)
    assert found, page.body[:300]
    return found.group(1).decode()


def test_state_changing_requests_need_the_csrf_token(
        start_service: Callable[..., ServiceRunner], photo: Callable[[str], bytes]) -> None:
    runner = start_service(trusted_peers=frozenset({"127.0.0.2"}))
    cookie = {"Cookie": session_cookie(runner)}
    home = f"http://127.0.0.1:{runner.service.http_port}/"
    page = request("GET", home, headers=cookie)
    assert page.status == 200
    csrf = csrf_of(page)
    assert request("GET", runner.url("/people"), headers=cookie).status == 200

    upload, upload_headers = multipart("file", "a.jpg", photo(OBAMA_1))
    refused = [
        request("POST", runner.url("/people"), NEW_PERSON, headers={**JSON, **cookie}),
        request("POST", runner.url("/people"), NEW_PERSON,
                headers={**JSON, **cookie, "X-CSRF-Token": csrf[:-2] + "xx"}),
        request("POST", runner.url("/enroll?name=Ann"), upload,
                headers={**upload_headers, **cookie}),
        request("DELETE", runner.url("/people/ann_example"), headers=cookie),
        request("POST", home + "logout", b"", headers=cookie),
    ]
    assert [(a.status, a.json()["error"]) for a in refused] == [(403, "csrf_failed")] * 5
    assert runner.http("GET", "/people").json()["people"] == []
    forged = {"Cookie": "known_faces_session=1700000000.not-a-signature"}
    assert request("GET", runner.url("/people"), headers=forged).status == 401
    assert request("POST", runner.url("/people"), NEW_PERSON, headers=JSON).status == 401

    created = request("POST", runner.url("/people"), NEW_PERSON,
                      headers={**JSON, **cookie, "X-CSRF-Token": csrf})
    assert created.status == 201
    # The integration's bearer token needs no CSRF token: no browser sends it by itself.
    assert runner.http("DELETE", "/people/ann_example").status == 204


def test_the_ingress_proxy_needs_the_csrf_token_too(
        start_service: Callable[..., ServiceRunner]) -> None:
    runner = start_service(trusted_peers=frozenset({"127.0.0.1"}))
    ingress = {"X-Ingress-Path": INGRESS_PATH}
    csrf = csrf_of(request("GET", f"http://127.0.0.1:{runner.service.http_port}/",
                           headers=ingress))
    without = request("POST", runner.url("/people"), NEW_PERSON, headers={**JSON, **ingress})
    assert (without.status, without.json()["error"]) == (403, "csrf_failed")
    with_token = request("POST", runner.url("/people"), NEW_PERSON,
                         headers={**JSON, **ingress, "X-CSRF-Token": csrf})
    assert with_token.status == 201

