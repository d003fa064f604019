"""An in-test stand-in for the Known Faces HTTP API (addon/DOCS.md), for client and service tests.

It keeps people in memory and decides an enrollment's fate from the image bytes: an image whose
bytes are one of the service's 422 reasons (b"no_face", ...) is refused with that reason.
`legacy = True` makes it answer like a service older than `topic_prefix` and enroll-by-name.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

TOKEN = "s3cret-token"
INSTANCE_ID = "7d1c3a2e-1f4b-4f0e-9c55-2b6d8e0a4f11"
REJECTIONS = {"no_face", "several_faces", "too_small", "blurred", "low_quality"}
IMAGE = b"\xff\xd8\xff\xe0 a jpeg of alice"
# A photo the service finds unlike the person's other photos (`does_not_match_person`).
SOMEONE_ELSE = b"\xff\xd8\xff\xe0 a jpeg of someone else"
# The service's stream cameras, whose face in view `POST /enroll?camera=` takes.
STREAM_CAMERAS = {"front_door"}
TOPIC_PREFIX = "known_faces"


def _error(status: int, code: str, message: str = "") -> web.Response:
    """An error in the service's JSON shape."""
    return web.json_response({"error": code, "message": message or code}, status=status)


class FakeService:
    """The routes the integration uses, plus `/image.jpg` to download from."""

    def __init__(self) -> None:
        """Start with an empty gallery."""
        self.token = TOKEN
        self.people: dict[str, dict[str, Any]] = {}
        self.faces: list[tuple[str, bytes, str]] = []
        self.recognized: list[dict[str, str]] = []
        self.requests: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.legacy = False
        self.topic_prefix = TOPIC_PREFIX
        # Served by `/large.jpg` in small pieces with pauses, as a slow network hands them over.
        self.large_image = b""
        # Visitors by id (`v_0001`), each `{"visitor", "status"}`.
        self.visitors: dict[str, dict[str, Any]] = {}

    async def start(self) -> str:
        """Serve on a free port of 127.0.0.1; returns the base URL."""
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/api/v1/health", self._health)
        app.router.add_get("/api/v1/people", self._list)
        app.router.add_post("/api/v1/enroll", self._enroll)
        app.router.add_patch("/api/v1/people/{slug}", self._rename)
        app.router.add_delete("/api/v1/people/{slug}", self._delete)
        app.router.add_post("/api/v1/people/{slug}/faces", self._add_face)
        app.router.add_post("/api/v1/recognize", self._recognize)
        app.router.add_get("/api/v1/visitors/{visitor}/crop", self._visitor_crop)
        app.router.add_post("/api/v1/visitors/{visitor}/assign", self._assign_visitor)
        app.router.add_post("/api/v1/visitors/{visitor}/ignore", self._ignore_visitor)
        app.router.add_delete("/api/v1/visitors/{visitor}/ignore", self._ignore_visitor)
        app.router.add_delete("/api/v1/visitors/{visitor}", self._forget_visitor)
        app.router.add_get("/image.jpg", self._image)
        app.router.add_get("/large.jpg", self._large_image)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Close the server."""
        if self.runner is not None:
            await self.runner.cleanup()

    def add_person(self, name: str) -> dict[str, Any]:
        """Enroll a person directly (no face), as another client would."""
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        self.people[slug] = {"person": slug, "name": name, "face_count": 0, "created": "t"}
        return self.people[slug]

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every route but /health and the test image needs the bearer token."""
        self.requests.append(f"{request.method} {request.path}")
        public = request.path in ("/api/v1/health", "/image.jpg", "/large.jpg")
        if not public and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "unauthorized")
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        health = {
            "status": "ok",
            "service": "known_faces",
            "version": "0.1.0",
            "instance_id": INSTANCE_ID,
            "model": "mobilefacenet-192",
            "people": len(self.people),
            "mqtt": "connected",
        }
        if not self.legacy:
            health["topic_prefix"] = self.topic_prefix
        return web.json_response(health)

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"people": list(self.people.values())})

    async def _enroll(self, request: web.Request) -> web.Response:
        """Enroll by name: an existing person (any case) gets the face, else one is created."""
        if self.legacy:
            return _error(404, "not_found", "Not Found")
        name = request.query.get("name", "").strip()
        if not name:
            return _error(400, "invalid_name")
        body = await request.read()
        camera = request.query.get("camera")
        if camera is not None:
            if camera not in STREAM_CAMERAS:
                return _error(404, "unknown_camera", "no stream camera of this name")
            body = IMAGE  # the face in view
        refusal = self._refusal(body, request.query.get("force") == "true")
        if refusal is not None:
            return refusal
        person = next(
            (p for p in self.people.values() if p["name"].casefold() == name.casefold()), None
        )
        created = person is None
        if person is None:
            person = self.add_person(name)
        face = self._store_face(person, body, request.query.get("source", ""))
        return web.json_response(
            {"face": face, "person": person, "created": created, **self._warning(body)},
            status=201,
        )

    async def _rename(self, request: web.Request) -> web.Response:
        person = self.people.get(request.match_info["slug"])
        if person is None:
            return _error(404, "unknown_person")
        name = (await request.json())["name"]
        if any(p["name"] == name for p in self.people.values() if p is not person):
            return _error(409, "duplicate_name")
        person["name"] = name
        return web.json_response(person)

    async def _delete(self, request: web.Request) -> web.Response:
        if self.people.pop(request.match_info["slug"], None) is None:
            return _error(404, "unknown_person")
        return web.Response(status=204)

    async def _add_face(self, request: web.Request) -> web.Response:
        person = self.people.get(request.match_info["slug"])
        if person is None:
            return _error(404, "unknown_person")
        body = await request.read()
        refusal = self._refusal(body, request.query.get("force") == "true")
        if refusal is not None:
            return refusal
        face = self._store_face(person, body, request.query.get("source", ""))
        return web.json_response(
            {"face": face, "person": person, **self._warning(body)}, status=201
        )

    @staticmethod
    def _warning(body: bytes) -> dict[str, str]:
        """A forced photo unlike the person's others is taken with a warning."""
        return {"warning": "does_not_match_person"} if body == SOMEONE_ELSE else {}

    @staticmethod
    def _refusal(body: bytes, force: bool = False) -> web.Response | None:
        """The service's answer to an image it does not take, or None to take it."""
        if body == SOMEONE_ELSE and not force:
            return _error(422, "does_not_match_person", "score 0.21 under 0.55")
        if body == b"huge":
            return _error(413, "too_large")
        if body == b"odd":
            return _error(400, "unsupported_thing")
        if body.decode("latin-1") in REJECTIONS:
            return _error(422, body.decode(), f"rejected: {body.decode()}")
        if not body.startswith(b"\xff\xd8"):
            return _error(400, "invalid_image")
        return None

    def _store_face(self, person: dict[str, Any], body: bytes, source: str) -> dict[str, Any]:
        """Keep an accepted face; returns it as the service describes faces."""
        self.faces.append((person["person"], body, source))
        person["face_count"] += 1
        return {"id": len(self.faces), "source": source, "quality": 0.9}

    async def _recognize(self, request: web.Request) -> web.Response:
        await request.read()
        self.recognized.append(dict(request.query))
        face = {
            "known": True,
            "person": "alice",
            "name": "Alice",
            "similarity": 0.8,
            "status": "known",
        }
        return web.json_response(
            {
                "snapshot_id": "s1",
                "camera": request.query.get("camera"),
                "face_count": 1,
                "latency_ms": 12.5,
                "faces": [face],
            }
        )

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=IMAGE, content_type="image/jpeg")

    async def _large_image(self, request: web.Request) -> web.StreamResponse:
        """Chunked, 16 KiB at a time with a pause after each, like a camera on Wi-Fi."""
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await response.prepare(request)
        for start in range(0, len(self.large_image), 16 * 1024):
            await response.write(self.large_image[start : start + 16 * 1024])
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response

    def add_visitor(self, visitor: str) -> None:
        """A visitor awaiting review, as a stranger's sightings make one."""
        self.visitors[visitor] = {"visitor": visitor, "status": "pending"}

    def _visitor(self, request: web.Request) -> dict[str, Any] | None:
        return self.visitors.get(request.match_info["visitor"])

    async def _visitor_crop(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request)
        if visitor is None:
            return _error(404, "unknown_visitor", "no such visitor")
        return web.Response(body=IMAGE + visitor["visitor"].encode(), content_type="image/jpeg")

    async def _assign_visitor(self, request: web.Request) -> web.Response:
        """To `{"person": slug}` or a new `{"name": ...}`; a taken name asks for the slug."""
        visitor = self._visitor(request)
        if visitor is None:
            return _error(404, "unknown_visitor", "no such visitor")
        body = await request.json()
        if "name" in body:
            taken = next(
                (
                    p
                    for p in self.people.values()
                    if p["name"].casefold() == body["name"].casefold()
                ),
                None,
            )
            if taken is not None:
                return _error(
                    409, "duplicate_name", f"assign it to the person '{taken['person']}' instead"
                )
            person, created = self.add_person(body["name"]), True
        else:
            person, created = self.people.get(body["person"]), False
            if person is None:
                return _error(404, "unknown_person")
        face = self._store_face(person, IMAGE, f"visitor {visitor['visitor']}")
        del self.visitors[visitor["visitor"]]
        return web.json_response(
            {
                "person": person,
                "created": created,
                "faces": [face["id"]],
                "refused": [],
                "sightings_moved": 1,
            }
        )

    async def _ignore_visitor(self, request: web.Request) -> web.Response:
        visitor = self._visitor(request)
        if visitor is None:
            return _error(404, "unknown_visitor", "no such visitor")
        visitor["status"] = "ignored" if request.method == "POST" else "pending"
        return web.json_response(visitor)

    async def _forget_visitor(self, request: web.Request) -> web.Response:
        if self.visitors.pop(request.match_info["visitor"], None) is None:
            return _error(404, "unknown_visitor", "no such visitor")
        return web.Response(status=204)
