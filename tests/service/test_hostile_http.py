"""Hostile HTTP clients against the real service (issue 8, items 7 and 8; DESIGN §6).

Every case gets a 4xx with the JSON error shape (except the few that aiohttp refuses before the
application sees them, which must still be a 4xx, logged in one line) and leaves the gallery as
it was: the people and faces listed before and after are the same. Raw sockets send what
urllib would refuse to (bytes that are not UTF-8 in a header, half a request line).
"""

from __future__ import annotations

import functools
import gzip
import http.client
import json
import logging
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from known_faces.service import app as app_module
from known_faces.service import http_api

from .helpers import Response, ServiceRunner, enroll

OBAMA_1 = "people/barack_obama/barack_obama_1.jpg"
JSON = {"Content-Type": "application/json"}
STALL = 1.0  # the service's stall timeout in these tests, seconds
Photo = Callable[[str], bytes]


@pytest.fixture
def api(start_service: Callable[..., ServiceRunner], photo: Photo,
        monkeypatch: pytest.MonkeyPatch) -> ServiceRunner:
    """A service with a small stall timeout and a gallery of two people, one with face 1."""
    monkeypatch.setattr(app_module, "build_app",
                        functools.partial(http_api.build_app, stall_timeout=STALL))
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    enroll(runner, "Zoë")
    return runner


def gallery(api: ServiceRunner) -> dict[str, Any]:
    """Everything the API lists: people and each one's faces."""
    people = api.http("GET", "/people").json()["people"]
    return {p["person"]: (p, api.http("GET", f"/people/{p['person']}/faces").json())
            for p in people}


@pytest.fixture
def unchanged(api: ServiceRunner) -> Iterator[None]:
    """Asserts after the test that the gallery is what it was before it."""
    before = gallery(api)
    assert before["barack_obama"][1]["faces"][0]["id"] == 1
    yield
    assert gallery(api) == before


def assert_json_error(status: int, body: bytes, expected: int, code: str | None = None) -> None:
    """A 4xx with exactly ``{"error": code, "message": text}``."""
    assert status == expected, body[:300]
    error = json.loads(body)
    assert set(error) == {"error", "message"}
    assert isinstance(error["message"], str)
    if code is not None:
        assert error["error"] == code


def raw_exchange(api: ServiceRunner, data: bytes, timeout: float = 10) -> Response:
    """Send ``data`` as it is on a new connection and read the answer."""
    with socket.create_connection(("127.0.0.1", api.service.http_port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return Response(answer.status, dict(answer.getheaders()), answer.read())


def request_bytes(api: ServiceRunner, method: str, path: str, headers: dict[str, bytes],
                  body: bytes = b"") -> bytes:
    """One HTTP/1.1 request with header values taken byte for byte."""
    lines = [f"{method} /api/v1{path} HTTP/1.1".encode(), b"Host: 127.0.0.1",
             b"Connection: close", f"Content-Length: {len(body)}".encode()]
    lines += [name.encode() + b": " + value for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def bearer(api: ServiceRunner) -> bytes:
    return f"Bearer {api.service.token}".encode()


def assert_one_line_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing the client sent is logged with a traceback or at length."""
    for record in caplog.records:
        assert record.exc_info is None, record.getMessage()[:300]
        assert len(record.getMessage()) < 400, record.getMessage()[:400]


# -- item 7: bad input that used to reach a 500 -------------------------------------------------

# Names that must be refused: a lone surrogate, and each kind of invisible or direction-control
# character that would let two names look alike.
HOSTILE_NAMES = {
    "lone surrogate": '{"name": "Joe\\ud800"}',
    "zero-width space": '{"name": "Barack\\u200bObama"}',
    "zero-width non-joiner": '{"name": "Barack\\u200cObama"}',
    "zero-width joiner": '{"name": "Barack\\u200dObama"}',
    "word joiner": '{"name": "Barack\\u2060Obama"}',
    "byte-order mark": '{"name": "\\ufeffBarack Obama"}',
    "right-to-left override": '{"name": "\\u202eamabO kcaraB"}',
    "left-to-right override": '{"name": "\\u202dBarack Obama"}',
    "pop directional formatting": '{"name": "Barack Obama\\u202c"}',
    "right-to-left isolate": '{"name": "\\u2067Barack\\u2069 Obama"}',
    "first strong isolate": '{"name": "\\u2068Barack Obama"}',
    "right-to-left mark": '{"name": "Barack Obama\\u200f"}',
    "soft hyphen": '{"name": "Ba\\u00adrack Obama"}',
    "bell": '{"name": "Barack\\u0007Obama"}',
    "hangul filler": '{"name": "\\u3164"}',
    "tag characters": '{"name": "Barack Obama\\udb40\\udc41"}',
}


@pytest.mark.parametrize("body", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
@pytest.mark.parametrize(("method", "path"), [("POST", "/people"), ("PATCH", "/people/zoe")])
@pytest.mark.usefixtures("unchanged")
def test_invisible_and_unencodable_names_are_refused(api: ServiceRunner, method: str, path: str,
                                                     body: str) -> None:
    answer = api.http(method, path, body.encode(), headers=JSON)
    assert_json_error(answer.status, answer.body, 400, "invalid_name")


@pytest.mark.parametrize("body", [b for k, b in HOSTILE_NAMES.items() if k != "lone surrogate"],
                         ids=[k for k in HOSTILE_NAMES if k != "lone surrogate"])
@pytest.mark.usefixtures("unchanged")
def test_enroll_by_name_refuses_them_too(api: ServiceRunner, photo: Photo, body: str) -> None:
    """The same names as a query parameter of /enroll, with a photo that would be accepted.
    (A lone surrogate cannot travel in a URL: its bytes arrive as U+FFFD.)"""
    name = urllib.parse.quote(json.loads(body)["name"])
    answer = api.http("POST", f"/enroll?name={name}", photo(OBAMA_1))
    assert_json_error(answer.status, answer.body, 400, "invalid_name")


@pytest.mark.usefixtures("unchanged")
def test_a_decomposed_name_is_the_same_name(api: ServiceRunner) -> None:
    """``Zoe`` + combining diaeresis is NFC-normalised to the enrolled ``Zoë``: a duplicate."""
    answer = api.http("POST", "/people", b'{"name": "Zoe\\u0308"}', headers=JSON)
    assert_json_error(answer.status, answer.body, 409, "duplicate_name")


def test_names_are_stored_nfc_normalised(api: ServiceRunner) -> None:
    answer = api.http("POST", "/people", b'{"name": "Rene\\u0301e"}', headers=JSON)
    assert answer.status == 201
    assert answer.json()["name"] == "Ren\u00e9e"


@pytest.mark.parametrize(("depth", "status", "code"), [
    (100_000, 413, "request_too_large"),  # beyond the JSON body limit before any parsing
    (5_000, 400, "invalid_json"),  # within it, but too deep for the parser: RecursionError
])
@pytest.mark.usefixtures("unchanged")
def test_deeply_nested_json_is_refused(api: ServiceRunner, depth: int, status: int,
                                       code: str) -> None:
    body = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    for method, path in (("POST", "/people"), ("PATCH", "/people/zoe")):
        answer = api.http(method, path, body, headers=JSON)
        assert_json_error(answer.status, answer.body, status, code)


# Face ids that name no face: beyond SQLite's int64 (OverflowError), digits that are not ASCII
# ('١' is Arabic-Indic one, which int() reads as face 1), forms int() accepts but ids are not.
HOSTILE_FACE_IDS = ["99999999999999999999", "9223372036854775808", "%C2%B2", "%D9%A1",
                    "%EF%BC%91", "1_0", "+1", "%201", "-1", "0x1"]


@pytest.mark.parametrize("fid", HOSTILE_FACE_IDS)
@pytest.mark.usefixtures("unchanged")
def test_face_ids_are_ascii_int64_only(api: ServiceRunner, fid: str) -> None:
    for method, path in (("DELETE", f"/people/barack_obama/faces/{fid}"),
                         ("GET", f"/people/barack_obama/faces/{fid}/crop")):
        answer = api.http(method, path)
        assert_json_error(answer.status, answer.body, 404, "unknown_face")


@pytest.mark.parametrize("limit", ["%D9%A1", "%C2%B2", "99999999999999999999", "1_0", "+1"])
@pytest.mark.usefixtures("unchanged")
def test_event_limits_are_ascii_digits_only(api: ServiceRunner, limit: str) -> None:
    answer = api.http("GET", f"/events?limit={limit}")
    assert_json_error(answer.status, answer.body, 400, "invalid_parameter")


@pytest.mark.parametrize("value", [b"Bearer \xff\xfe", b"\xff", b"Bearer \xed\xa0\x80",
                                   b"bearer " + b"\xc3" * 64])
@pytest.mark.parametrize(("method", "path"), [("GET", "/people"), ("DELETE", "/people/zoe")])
@pytest.mark.usefixtures("unchanged")
def test_authorization_that_is_not_utf8_is_unauthorised(api: ServiceRunner, method: str,
                                                        path: str, value: bytes) -> None:
    answer = raw_exchange(api, request_bytes(api, method, path, {"Authorization": value}))
    assert_json_error(answer.status, answer.body, 401, "unauthorized")


NOT_GZIP = b"this is not gzip at all"


@pytest.mark.parametrize(("path", "encoding", "body"), [
    ("/recognize", b"gzip", NOT_GZIP),
    ("/recognize", b"gzip", gzip.compress(b"fine")[:12]),  # a gzip stream cut short
    ("/recognize", b"deflate", NOT_GZIP),
    ("/import", b"gzip", NOT_GZIP),
    ("/import?mode=replace", b"gzip", NOT_GZIP),
    ("/people/barack_obama/faces", b"gzip", NOT_GZIP),
])
@pytest.mark.usefixtures("unchanged")
def test_content_encoding_that_lies_is_refused(api: ServiceRunner, caplog: pytest.LogCaptureFixture,
                                               path: str, encoding: bytes, body: bytes) -> None:
    caplog.set_level(logging.INFO)
    answer = raw_exchange(api, request_bytes(api, "POST", path, {
        "Authorization": bearer(api), "Content-Encoding": encoding,
        "Content-Type": b"application/octet-stream"}, body))
    assert_json_error(answer.status, answer.body, 400)
    # Depending on where the decompressor gives up, it is the body or what it inflated to.
    assert json.loads(answer.body)["error"] in ("invalid_body", "invalid_image",
                                                "invalid_archive")
    assert_one_line_logs(caplog)


@pytest.mark.usefixtures("unchanged")
def test_gzip_names_and_bombs_are_read_with_the_same_limits(api: ServiceRunner) -> None:
    """A gzip body is decompressed (a client may send one) and the limit counts what it
    inflates to, so a small bomb is refused without being held in memory."""
    bomb = gzip.compress(b'{"name": "' + b" " * (1 << 20) + b'"}')
    answer = raw_exchange(api, request_bytes(api, "POST", "/people", {
        "Authorization": bearer(api), "Content-Encoding": b"gzip",
        "Content-Type": b"application/json"}, bomb))
    assert len(bomb) < 2048
    assert_json_error(answer.status, answer.body, 413, "request_too_large")


# -- item 8: protocol abuse ------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/people", {"GET", "POST"}),
    ("POST", "/people/zoe", {"GET", "PATCH", "DELETE"}),
    ("DELETE", "/recognize", {"POST"}),
    ("PATCH", "/events", {"GET"}),
])
@pytest.mark.usefixtures("unchanged")
def test_405_says_what_is_allowed(api: ServiceRunner, method: str, path: str,
                                  allowed: set[str]) -> None:
    answer = api.http(method, path, b"{}", headers=JSON)
    assert_json_error(answer.status, answer.body, 405, "method_not_allowed")
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) - {"HEAD"} == allowed


def closed_within(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closes ``sock``, and what it sent before."""
    start, received = time.monotonic(), b""
    sock.settimeout(limit)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        raise AssertionError(f"still open after {limit} s") from None
    return time.monotonic() - start, received


STALLED_STARTS = {
    "nothing sent": b"",
    "half a request line": b"GET /api/v1/peo",
    "headers never finished": b"GET /api/v1/people HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: ",
}


@pytest.mark.parametrize("start", STALLED_STARTS.values(), ids=STALLED_STARTS.keys())
@pytest.mark.usefixtures("unchanged")
def test_stalled_connections_are_closed(api: ServiceRunner, start: bytes) -> None:
    """Many connections that never finish a request are all closed after the stall timeout
    (300 of them used to stay open forever), and the service still answers."""
    port = api.service.http_port
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    try:
        for sock in stalled:
            sock.sendall(start)
        for sock in stalled:
            elapsed, _ = closed_within(sock, STALL * 6)
            assert elapsed < STALL * 6
    finally:
        for sock in stalled:
            sock.close()
    assert api.http("GET", "/people").status == 200


@pytest.mark.parametrize(("path", "content_type", "start"), [
    ("/recognize", b"image/jpeg", b"\xff\xd8" * 50),
    ("/recognize", b"multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-"),
    ("/recognize", b"multipart/form-data; boundary=b",
     b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n\xff\xd8'),
    ("/people", b"application/json", b'{"name": "Jo'),
    ("/import", b"application/zip", b"PK\x03\x04"),
])
@pytest.mark.usefixtures("unchanged")
def test_a_body_that_stops_arriving_is_408_and_closed(api: ServiceRunner, path: str,
                                                      content_type: bytes, start: bytes) -> None:
    head = request_bytes(api, "POST", path, {"Authorization": bearer(api),
                                              "Content-Type": content_type})
    head = head.replace(b"Content-Length: 0", b"Content-Length: 1000")
    with socket.create_connection(("127.0.0.1", api.service.http_port)) as sock:
        sock.sendall(head + start)
        elapsed, received = closed_within(sock, STALL * 6)
    status_line, _, rest = received.partition(b"\r\n")
    assert b" 408 " in status_line, received[:300]
    assert_json_error(408, rest.partition(b"\r\n\r\n")[2], 408, "request_timeout")
    assert elapsed < STALL * 6


# Requests aiohttp refuses before the application sees them, so with its own plain-text 400.
MALFORMED = {
    "180 KB header of control bytes": b"X-Junk: " + b"\x01" * 180_000 + b"\r\n\r\n",
    "bad chunk size": b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "unsupported encoding": b"Content-Encoding: br\r\nContent-Length: 3\r\n\r\nabc",
    "header line too long": b"X-Long: " + b"a" * 180_000 + b"\r\n\r\n",
}


@pytest.mark.parametrize("rest", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.usefixtures("unchanged")
def test_a_malformed_request_is_logged_in_one_short_line(api: ServiceRunner,
                                                         caplog: pytest.LogCaptureFixture,
                                                         rest: bytes) -> None:
    """It used to be logged with a traceback and every one of its bytes (180 KB a time)."""
    caplog.set_level(logging.DEBUG)
    bad = b"POST /api/v1/recognize HTTP/1.1\r\nHost: x\r\n" + bearer(api).join(
        [b"Authorization: ", b"\r\n"]) + rest
    with socket.create_connection(("127.0.0.1", api.service.http_port), timeout=10) as sock:
        sock.sendall(bad)
        _, received = closed_within(sock, 10)
    assert b" 400 " in received.partition(b"\r\n")[0]
    refusals = [r for r in caplog.records if r.name == http_api.SERVER_LOG.name]
    assert len(refusals) == 1
    assert_one_line_logs(caplog)
