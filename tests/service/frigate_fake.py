"""A FAKE Frigate for the tests and the benchmark: Frigate itself cannot run here (it needs
cameras, ffmpeg and an object detector), so this aiohttp app follows its documented HTTP API
and MQTT payloads instead, as read in blakeblackshear/frigate (docs/integrations/api.md and
mqtt.md; frigate/api/media.py, event.py, auth.py, defs/request/events_body.py):

* ``GET /api/<camera>/latest.jpg`` — the camera's current frame (404 for an unknown camera);
* ``GET /api/events/<id>/snapshot.jpg?crop=0&quality=100`` — the event's snapshot (404 when
  the event is unknown);
* ``POST /api/events/<id>/sub_label`` with ``{"subLabel": str ≤ 100, "subLabelScore": float in
  (0, 1] or null}`` — 404 for an unknown event, 422 for a body outside that schema;
* ``POST /api/login`` ``{"user", "password"}`` — with auth on (port 8971), a JWT in the
  ``frigate_token`` cookie, which Frigate also takes as ``Authorization: Bearer``; every other
  call without a valid token answers 401. Without auth, login answers 404 as Frigate does.

The frames are real photos, given by the test. ``event_message`` builds ``frigate/events``
payloads in the documented shape. ``faults`` (by request kind, or by exact path for one
camera or event) make requests answer an HTTP status or stall; ``expire_tokens`` makes the
next call need a new login.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .helpers import free_port


@dataclass
class Fault:
    """What a request kind does instead of answering: a status, a delay, or both."""

    status: int | None = None
    delay_s: float = 0.0


@dataclass
class FakeEvent:
    """One tracked object: its camera and the snapshots it serves (the last one repeats)."""

    camera: str
    snapshots: list[bytes]
    served: int = 0


@dataclass
class FakeFrigate:
    """The fake's state: what it serves, what it was asked and sent."""

    auth: tuple[str, str] | None = None
    port: int = field(default_factory=free_port)
    latest: dict[str, list[bytes]] = field(default_factory=dict)
    events: dict[str, FakeEvent] = field(default_factory=dict)
    sub_labels: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    logins: int = 0
    _tokens: set[str] = field(default_factory=set)
    _served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL, as ``http://ccab4aaf-frigate:5000`` would be."""
        return f"http://127.0.0.1:{self.port}"

    # -- what the test sets up ---------------------------------------------------------------
    def add_event(self, event_id: str, camera: str, snapshots: list[bytes],
                  latest: list[bytes] | None = None) -> None:
        """An event with its snapshots; ``latest`` replaces the camera's current frames."""
        with self._lock:
            self.events[event_id] = FakeEvent(camera, snapshots)
            if latest is not None:
                self.latest[camera] = latest
                self._served[camera] = 0

    def sub_labels_of(self, event_id: str) -> list[dict[str, Any]]:
        """Bodies posted for one event, in order."""
        with self._lock:
            return [body for eid, body in self.sub_labels if eid == event_id]

    def count(self, kind: str) -> int:
        """How many requests of a kind (latest, snapshot, sub_label, login) arrived."""
        with self._lock:
            return sum(1 for k, _ in self.requests if k == kind)

    def expire_tokens(self) -> None:
        """Every issued JWT stops being valid (its session ended)."""
        with self._lock:
            self._tokens.clear()

    # -- the API ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        """The fake API."""
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/api/login", self._login)
        app.router.add_get("/api/{camera}/latest.jpg", self._latest)
        app.router.add_get("/api/events/{event_id}/snapshot.jpg", self._snapshot)
        app.router.add_post("/api/events/{event_id}/sub_label", self._sub_label)
        return app

    @staticmethod
    def _kind(request: web.Request) -> str:
        path = request.path
        if path == "/api/login":
            return "login"
        if path.endswith("/sub_label"):
            return "sub_label"
        return "snapshot" if path.startswith("/api/events/") else "latest"

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        kind = self._kind(request)
        with self._lock:
            self.requests.append((kind, request.path_qs))
            fault = self.faults.get(request.path) or self.faults.get(kind)
        if fault is not None:
            if fault.delay_s:
                await asyncio.sleep(fault.delay_s)
            if fault.status is not None:
                return web.json_response({"success": False, "message": "fault"},
                                         status=fault.status)
        if self.auth is not None and kind != "login":
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ") or request.cookies.get("frigate_token", "")
            with self._lock:
                valid = token in self._tokens
            if not valid:
                return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    async def _login(self, request: web.Request) -> web.StreamResponse:
        if self.auth is None:
            return web.json_response({"message": "Authentication is disabled"}, status=404)
        body = await request.json()
        if (body.get("user"), body.get("password")) != self.auth:
            return web.json_response({"message": "Login failed"}, status=401)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
            self.logins += 1
        response = web.Response(status=200)
        response.set_cookie("frigate_token", token, httponly=True, max_age=86400)
        return response

    async def _latest(self, request: web.Request) -> web.StreamResponse:
        camera = request.match_info["camera"]
        with self._lock:
            frames = self.latest.get(camera)
            if not frames:
                return web.json_response({"success": False,
                                          "message": "Camera not found"}, status=404)
            index = min(self._served.get(camera, 0), len(frames) - 1)
            self._served[camera] = index + 1
            frame = frames[index]
        return web.Response(body=frame, content_type="image/jpeg")

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            event = self.events.get(request.match_info["event_id"])
            if event is None or not event.snapshots:
                return web.json_response({"success": False, "message": "Event not found"},
                                         status=404)
            frame = event.snapshots[min(event.served, len(event.snapshots) - 1)]
            event.served += 1
        return web.Response(body=frame, content_type="image/jpeg")

    async def _sub_label(self, request: web.Request) -> web.StreamResponse:
        event_id = request.match_info["event_id"]
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"detail": "invalid json"}, status=422)
        label, score = body.get("subLabel"), body.get("subLabelScore")
        valid_score = score is None or (isinstance(score, int | float) and 0 < score <= 1)
        if not isinstance(label, str) or len(label) > 100 or not valid_score:
            return web.json_response({"detail": "validation error"}, status=422)
        with self._lock:
            if event_id not in self.events:
                return web.json_response(
                    {"success": False, "message": f"Event {event_id} not found."}, status=404)
            self.sub_labels.append((event_id, body))
        return web.json_response({"success": True,
                                  "message": f"Event {event_id} sub label set to {label}"})

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> FakeFrigate:
        """Serve on a background loop."""
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True, name="fake-frigate").start()

        async def serve() -> None:
            self._runner = web.AppRunner(self.app())
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
        self._loop = loop
        return self

    def stop(self) -> None:
        """Stop serving (Frigate is down from now on)."""
        if self._loop is None:
            return
        loop, runner = self._loop, self._runner
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._loop = None


def event_message(kind: str, event_id: str, camera: str, *, label: str = "person",
                  zones: tuple[str, ...] = (), false_positive: bool = False) -> bytes:
    """A ``frigate/events`` payload in the shape of Frigate's MQTT documentation."""
    now = time.time()
    after = {
        "id": event_id, "camera": camera, "frame_time": now,
        "snapshot": {"frame_time": now, "box": [415, 489, 528, 700], "area": 12728,
                     "region": [260, 446, 660, 846], "score": 0.77546, "attributes": []},
        "label": label, "sub_label": None, "top_score": 0.958984375,
        "false_positive": false_positive, "start_time": now - 1,
        "end_time": now if kind == "end" else None, "score": 0.87890625,
        "box": [432, 496, 544, 854], "area": 40096, "ratio": 1.251397,
        "region": [218, 440, 693, 915], "current_zones": list(zones),
        "entered_zones": list(zones), "thumbnail": None, "has_snapshot": True,
        "has_clip": False, "active": True, "stationary": False, "motionless_count": 0,
        "position_changes": 2, "attributes": {}, "current_attributes": [],
    }
    before = {**after, "current_zones": [], "entered_zones": []}
    return json.dumps({"type": kind, "before": before, "after": after}).encode()
