"""A small client of Frigate's HTTP API: the frames the follower fetches, the sub label it writes.

Frigate's internal port (5000) needs no auth; its authenticated port (8971) takes a user and
password at ``POST /api/login`` and answers with a JWT in a cookie (``frigate_token`` unless
renamed), which Frigate also accepts as ``Authorization: Bearer`` — used here, so neither the
cookie's ``Secure`` flag nor an IP address as host gets in the way. A 401 logs in again once
(the JWT expired). Every failure is a ``FrigateError`` with a short ``reason`` for the metrics;
the first failure of a kind of request for one reason is logged as a warning, repeats at
debug level, and that kind's first success after it says so once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from ..pipeline.decode import MAX_IMAGE_BYTES

LOG = logging.getLogger(__name__)

TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 3.0
COOKIE_NAME = "frigate_token"

OnFailure = Callable[[str, str], None]


class FrigateError(Exception):
    """A request Frigate did not answer usefully; ``reason`` is one of ``down``, ``timeout``,
    ``unauthorized``, ``not_found``, ``server_error``, ``bad_response``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def retryable(self) -> bool:
        """Whether trying again later can help (not for a gone event or a refused body)."""
        return self.reason in ("down", "timeout", "unauthorized", "server_error")


class FrigateApi:
    """Requests to one Frigate; ``on_failure(request, reason)`` counts what went wrong."""

    def __init__(self, url: str, *, user: str | None = None, password: str | None = None,
                 on_failure: OnFailure | None = None, timeout_s: float | None = None) -> None:
        self.url = url.rstrip("/")
        self._user, self._password = user, password
        self._on_failure = on_failure or (lambda _request, _reason: None)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s or TIMEOUT_S,
                                              connect=CONNECT_TIMEOUT_S)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._login_lock = asyncio.Lock()
        self._failing: set[tuple[str, str]] = set()

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the calls --------------------------------------------------------------------------
    async def latest_frame(self, camera: str) -> bytes:
        """The camera's current frame (``GET /api/<camera>/latest.jpg``)."""
        return await self._request("latest", "GET", f"/api/{camera}/latest.jpg")

    async def event_snapshot(self, event_id: str) -> bytes:
        """The event's snapshot, full frame at full quality (not the small crop)."""
        return await self._request("snapshot", "GET", f"/api/events/{event_id}/snapshot.jpg",
                                   params={"crop": "0", "quality": "100"})

    async def set_sub_label(self, event_id: str, sub_label: str, score: float | None) -> None:
        """``POST /api/events/<id>/sub_label`` with Frigate's ``EventsSubLabelBody``."""
        body: dict[str, Any] = {"subLabel": sub_label[:100]}
        if score is not None:
            body["subLabelScore"] = score
        await self._request("sub_label", "POST", f"/api/events/{event_id}/sub_label", json=body)

    # -- plumbing ---------------------------------------------------------------------------
    async def _request(self, request: str, method: str, path: str, *,
                       params: dict[str, str] | None = None,
                       json: dict[str, Any] | None = None) -> bytes:
        try:
            body = await self._exchange(method, path, params, json)
        except FrigateError as err:
            self._on_failure(request, err.reason)
            level = logging.DEBUG if (request, err.reason) in self._failing else logging.WARNING
            self._failing.add((request, err.reason))
            LOG.log(level, "Frigate at %s: %s %s failed (%s: %s); counted in "
                    "known_faces_frigate_errors_total, retried with backoff; logged once "
                    "until it answers", self.url, method, path, err.reason, err)
            raise
        if any(kind == request for kind, _ in self._failing):
            self._failing = {f for f in self._failing if f[0] != request}
            LOG.info("Frigate at %s answers %s requests again", self.url, request)
        return body

    async def _exchange(self, method: str, path: str, params: dict[str, str] | None,
                        json: dict[str, Any] | None) -> bytes:
        if self._user and self._token is None:
            await self._login()
        status, body = await self._send(method, path, params, json)
        if status == 401 and self._user:
            self._token = None
            await self._login()
            status, body = await self._send(method, path, params, json)
        _check(status)
        return body

    async def _login(self) -> None:
        """``POST /api/login``; one login at a time, others wait for its token."""
        async with self._login_lock:
            if self._token is not None:
                return
            session = self._open()
            try:
                async with session.post(self.url + "/api/login",
                                        json={"user": self._user,
                                              "password": self._password}) as resp:
                    _check(resp.status)
                    cookie = resp.cookies.get(COOKIE_NAME) or next(
                        iter(resp.cookies.values()), None)
            except TimeoutError as err:  # aiohttp's timeouts are ClientErrors too
                raise FrigateError("timeout", "login timed out") from err
            except (aiohttp.ClientError, OSError) as err:
                raise FrigateError("down", f"login: {err}") from err
            if cookie is None or not cookie.value:
                raise FrigateError("unauthorized", "login answered without a token cookie")
            self._token = cookie.value

    async def _send(self, method: str, path: str, params: dict[str, str] | None,
                    json: dict[str, Any] | None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            async with self._open().request(method, self.url + path, params=params, json=json,
                                            headers=headers) as resp:
                if resp.status >= 400:
                    return resp.status, b""
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    if size > MAX_IMAGE_BYTES:
                        raise FrigateError("bad_response", f"larger than {MAX_IMAGE_BYTES} B")
                    chunks.append(chunk)
        except TimeoutError as err:  # aiohttp's timeouts are ClientErrors too
            raise FrigateError("timeout", f"no answer within {self._timeout.total} s") from err
        except (aiohttp.ClientError, OSError) as err:
            raise FrigateError("down", str(err) or type(err).__name__) from err
        return resp.status, b"".join(chunks)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


def _check(status: int) -> None:
    """Raise the FrigateError an HTTP status means."""
    if status < 400:
        return
    if status in (401, 403):
        raise FrigateError("unauthorized", f"HTTP {status}")
    if status == 404:
        raise FrigateError("not_found", "HTTP 404 (event or camera gone)")
    if status >= 500:
        raise FrigateError("server_error", f"HTTP {status}")
    raise FrigateError("bad_response", f"HTTP {status}")
