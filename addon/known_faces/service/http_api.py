"""The HTTP API (DESIGN §6): aiohttp handlers, bearer auth and JSON errors.

Nothing a client sends may reach a 500 or the gallery unchecked: bodies are read with hard
limits, query parameters are parsed before use, and every engine or gallery error carries a
code that maps to a 4xx status here.
"""

from __future__ import annotations

import hmac
import json
import logging
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import (
    DuplicateName,
    EnrollmentRejected,
    ImageTooLarge,
    InvalidArchive,
    InvalidImage,
    InvalidName,
    KnownFacesError,
    ModelError,
    StorageError,
    UnknownFace,
    UnknownPerson,
)
from ..pipeline.decode import MAX_IMAGE_BYTES
from ..sources.cameras import valid_camera
from .intake import IntakeFull
from .openapi import openapi_document
from .routes import API_BASE, ROUTES

if TYPE_CHECKING:
    from .app import Service

LOG = logging.getLogger(__name__)

MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
CHUNK = 256 * 1024
MAX_EVENTS = 500

_STATUS_OF: dict[type[KnownFacesError], int] = {
    InvalidImage: 400,
    InvalidName: 400,
    InvalidArchive: 400,
    UnknownPerson: 404,
    UnknownFace: 404,
    DuplicateName: 409,
    ImageTooLarge: 413,
    EnrollmentRejected: 422,
    ModelError: 503,
    IntakeFull: 503,
    StorageError: 507,
}
RETRY_AFTER_S = 1
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A refusal with its status, stable code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> web.Response:
    """The one error shape: ``{"error": code, "message": text}``."""
    headers = ({"WWW-Authenticate": "Bearer"} if status == 401
               else {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None)
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def status_of(error: KnownFacesError) -> int:
    """HTTP status of an engine or gallery error (400 for anything unlisted)."""
    for cls in type(error).__mro__:
        if cls in _STATUS_OF:
            return _STATUS_OF[cls]
    return 400


async def _copy(read: Callable[[int], Awaitable[bytes]], limit: int,
                write: Callable[[bytes], Any]) -> int:
    """Stream a body through ``write``, refusing it with 413 once it passes ``limit``."""
    total = 0
    while chunk := await read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise ApiError(413, ImageTooLarge.code if limit == MAX_IMAGE_BYTES
                           else "request_too_large", f"the body exceeds {limit} bytes")
        write(chunk)
    return total


async def read_image(request: web.Request) -> bytes:
    """The image of a raw body or of a multipart body's file field, at most 20 MiB."""
    if request.content_length is not None and request.content_length > MAX_IMAGE_BYTES + CHUNK:
        raise ApiError(413, ImageTooLarge.code, f"images are limited to {MAX_IMAGE_BYTES} bytes")
    buffer = bytearray()
    if not request.content_type.startswith("multipart/"):
        await _copy(request.content.read, MAX_IMAGE_BYTES, buffer.extend)
        return bytes(buffer)
    try:
        async for part in await request.multipart():
            if isinstance(part, BodyPartReader) and (
                part.filename is not None or part.name in ("file", "image")
            ):
                await _copy(part.read_chunk, MAX_IMAGE_BYTES, buffer.extend)
                return bytes(buffer)
    except (HttpProcessingError, ValueError) as err:
        raise ApiError(400, "invalid_multipart", f"malformed multipart body: {err}") from None
    raise ApiError(400, InvalidImage.code, "the multipart body has no file field")


async def read_name(request: web.Request) -> str:
    """``{"name": ...}`` from a JSON body."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body must be JSON: {\"name\": ...}") from None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ApiError(400, InvalidName.code, "the body must be {\"name\": \"<display name>\"}")
    return body["name"]


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter (1/0, true/false, yes/no, on/off)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ApiError(400, "invalid_parameter", f"'{name}' must be true or false")


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter",
                       f"'{name}' must be an integer from {low} to {high}")
    return value


def face_id(request: web.Request) -> int:
    """The ``{face_id}`` path level; a non-number names no face."""
    raw = request.match_info["face_id"]
    if not raw.isdigit():
        raise ApiError(404, UnknownFace.code, f"no face with id '{raw}'")
    return int(raw)


class Api:
    """Handlers named as in the route table; ``service`` does the work."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._openapi = openapi_document(service.version)

    # -- middleware --------------------------------------------------------------------------
    def authorised(self, request: web.Request) -> bool:
        """Bearer token, or a peer the settings trust (the Supervisor's ingress proxy)."""
        if request.remote in self.service.trusted_peers:
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.service.token.encode()
        )

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Auth first (every route but health), then errors turned into JSON 4xx answers."""
        try:
            if request.path != API_BASE + "/health" and not self.authorised(request):
                raise ApiError(401, "unauthorized", "a valid bearer token is required")
            return await handler(request)
        except ApiError as err:
            return error_response(err.status, err.code, err.message)
        except KnownFacesError as err:
            return error_response(status_of(err), err.code, err.message)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            return error_response(err.status, _HTTP_CODES.get(err.status, "bad_request"),
                                  err.reason)
        except Exception:
            LOG.exception("HTTP %s %s failed", request.method, request.path)
            return error_response(500, "internal_error", "the request failed; see the log")

    # -- handlers ----------------------------------------------------------------------------
    async def health(self, _request: web.Request) -> web.Response:
        """Cheap enough for the container's HEALTHCHECK."""
        return web.json_response(self.service.health())

    async def recognize(self, request: web.Request) -> web.Response:
        """Every face of one image."""
        camera = request.query.get("camera", "http")
        if not valid_camera(camera):
            raise ApiError(400, "invalid_camera",
                           "camera names are 1–64 letters, digits, '_' or '-'")
        publish = query_bool(request, "publish", False)
        image = await read_image(request)
        result = await self.service.recognize(image, camera=camera, source="http",
                                              publish=publish)
        return web.json_response(result)

    async def list_people(self, _request: web.Request) -> web.Response:
        """Everybody."""
        people = await self.service.gallery_call(lambda g: g.people())
        return web.json_response({"people": [p.as_dict() for p in people]})

    async def create_person(self, request: web.Request) -> web.Response:
        """201 and the new person."""
        name = await read_name(request)
        person = await self.service.gallery_call(lambda g: g.create_person(name), changes=True)
        return web.json_response(person.as_dict(), status=201)

    async def get_person(self, request: web.Request) -> web.Response:
        """One person with their faces."""
        slug = request.match_info["slug"]
        person, faces = await self.service.gallery_call(lambda g: (g.person(slug), g.faces(slug)))
        return web.json_response({**person.as_dict(), "faces": [f.as_dict() for f in faces]})

    async def rename_person(self, request: web.Request) -> web.Response:
        """New display name; the slug stays."""
        slug = request.match_info["slug"]
        name = await read_name(request)
        person = await self.service.gallery_call(lambda g: g.rename_person(slug, name),
                                                 changes=True)
        return web.json_response(person.as_dict())

    async def delete_person(self, request: web.Request) -> web.Response:
        """204; crops and vectors go with the person."""
        slug = request.match_info["slug"]
        await self.service.gallery_call(lambda g: g.delete_person(slug), changes=True)
        return web.Response(status=204)

    async def list_faces(self, request: web.Request) -> web.Response:
        """A person's faces."""
        slug = request.match_info["slug"]
        faces = await self.service.gallery_call(lambda g: g.faces(slug))
        return web.json_response({"faces": [f.as_dict() for f in faces]})

    async def add_face(self, request: web.Request) -> web.Response:
        """201 with the face and the updated person; 422 says why a photo was refused."""
        slug = request.match_info["slug"]
        source = request.query.get("source", "http")[:64]
        image = await read_image(request)
        face, person = await self.service.enroll(slug, image, source=source)
        return web.json_response({"face": face.as_dict(), "person": person.as_dict()},
                                 status=201)

    async def enroll(self, request: web.Request) -> web.Response:
        """201 with the face, the person and whether the person was created; a refused photo
        is a 422 and creates nobody."""
        name = request.query.get("name")
        if name is None:
            raise ApiError(400, InvalidName.code, "the 'name' query parameter is required")
        source = request.query.get("source", "http")[:64]
        image = await read_image(request)
        face, person, created = await self.service.enroll_by_name(name, image, source=source)
        return web.json_response({"face": face.as_dict(), "person": person.as_dict(),
                                  "created": created}, status=201)

    async def delete_face(self, request: web.Request) -> web.Response:
        """204."""
        slug, fid = request.match_info["slug"], face_id(request)
        await self.service.gallery_call(lambda g: g.delete_face(slug, fid), changes=True)
        return web.Response(status=204)

    async def face_crop(self, request: web.Request) -> web.Response:
        """The stored aligned crop."""
        slug, fid = request.match_info["slug"], face_id(request)
        crop = await self.service.gallery_call(lambda g: g.face_crop(slug, fid))
        return web.Response(body=crop, content_type="image/jpeg")

    async def events(self, request: web.Request) -> web.Response:
        """Newest first."""
        limit = query_int(request, "limit", 50, 1, MAX_EVENTS)
        events = await self.service.gallery_call(lambda g: g.recent_events(limit))
        return web.json_response({"events": events})

    async def export(self, _request: web.Request) -> web.Response:
        """The gallery as a zip."""
        data = await self.service.export_archive()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return web.Response(
            body=data,
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="known_faces-{stamp}.zip"'},
        )

    async def import_archive(self, request: web.Request) -> web.Response:
        """Merge into or replace the gallery from an export."""
        mode = request.query.get("mode", "merge")
        if mode not in ("merge", "replace"):
            raise ApiError(400, "invalid_parameter", "'mode' must be merge or replace")
        with tempfile.TemporaryDirectory(prefix="known-faces-import-") as tmp:
            path = Path(tmp) / "import.zip"
            with path.open("wb") as sink:
                await _copy(request.content.read, MAX_ARCHIVE_BYTES, sink.write)
            people, faces = await self.service.import_archive(path, mode)
        return web.json_response({"people": people, "faces": faces})

    async def metrics(self, _request: web.Request) -> web.Response:
        """Prometheus text format."""
        return web.Response(text=self.service.metrics.render(),
                            content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def openapi(self, _request: web.Request) -> web.Response:
        """The OpenAPI document of these routes."""
        return web.json_response(self._openapi, dumps=lambda o: json.dumps(o, indent=1))


def build_app(service: Service) -> web.Application:
    """The aiohttp application with every route of ``routes.ROUTES``."""
    api = Api(service)
    app = web.Application(middlewares=[api.guard], client_max_size=MAX_IMAGE_BYTES + CHUNK)
    for route in ROUTES:
        app.router.add_route(route.method, API_BASE + route.path, getattr(api, route.handler))
    return app
