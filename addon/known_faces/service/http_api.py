"""The HTTP API (DESIGN §6): aiohttp handlers, bearer auth and JSON errors.

Nothing a client sends may reach a 500 or the gallery unchecked: bodies are read with hard
limits, query parameters are parsed before use, and every engine or gallery error carries a
code that maps to a 4xx status here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

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
    UnknownCamera,
    UnknownFace,
    UnknownPerson,
    UnknownVisitor,
)
from ..pipeline.decode import MAX_IMAGE_BYTES
from ..sources.cameras import valid_camera
from ..ui.paths import is_page, is_public, login_location
from .access import Access, Denied
from .intake import IntakeFull
from .live_view import live_mjpeg, stream_camera
from .openapi import openapi_document
from .routes import API_BASE, INT64_MAX, MAX_ARCHIVE_BYTES, MAX_EVENTS, MAX_JSON_BYTES, ROUTES

if TYPE_CHECKING:
    from ..recognizer import Enrollment
    from .api_backend import ApiBackend

LOG = logging.getLogger(__name__)

CHUNK = 256 * 1024
# Seconds a client may stay silent: before its request's headers are complete (a connection
# that never finishes them is closed) and between two chunks of a body (answered 408).
STALL_TIMEOUT = 30.0
_ASCII_DECIMAL = re.compile(r"[0-9]{1,19}")
_STALL_TIMEOUT_KEY = web.AppKey("stall_timeout", float)
# The application's one access check, for what is mounted beside the API (the web UI).
ACCESS_KEY = web.AppKey("access", Access)

_STATUS_OF: dict[type[KnownFacesError], int] = {
    InvalidImage: 400,
    InvalidName: 400,
    InvalidArchive: 400,
    UnknownPerson: 404,
    UnknownFace: 404,
    UnknownCamera: 404,
    UnknownVisitor: 404,
    DuplicateName: 409,
    ImageTooLarge: 413,
    EnrollmentRejected: 422,
    ModelError: 503,
    IntakeFull: 503,
    StorageError: 507,
}
RETRY_AFTER_S = 1
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
# Headers of aiohttp's own refusals worth keeping on the JSON answer (405 must say what is).
_KEPT_HEADERS = ("Allow",)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


class ApiError(Exception):
    """A refusal with its status, stable code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The one error shape: ``{"error": code, "message": text}``."""
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    elif status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    response = web.json_response({"error": code, "message": message}, status=status,
                                 headers=headers)
    if status == 408:
        response.force_close()  # the client is stuck mid-body: what follows is not a request
    return response


def status_of(error: KnownFacesError) -> int:
    """HTTP status of an engine or gallery error (400 for anything unlisted)."""
    for cls in type(error).__mro__:
        if cls in _STATUS_OF:
            return _STATUS_OF[cls]
    return 400


@contextmanager
def _body_errors() -> Iterator[None]:
    """A body that cannot be read is the client's fault, never a 500: a stall is 408; a body
    that is not what its Content-Encoding says (``gzip`` that is not gzip) is 400, and so is
    one whose connection is lost (nobody will read that answer, but it is no server error)."""
    try:
        yield
    except TimeoutError:
        raise ApiError(408, "request_timeout", "the body stopped arriving") from None
    except RequestPayloadError as err:
        cause = err.__cause__
        reason = cause.message if isinstance(cause, HttpProcessingError) else str(err)
        raise ApiError(400, "invalid_body", f"the body cannot be read: {reason}") from None
    except ConnectionResetError:
        raise ApiError(400, "invalid_body", "the connection was lost mid-body") from None


async def _in_time(request: web.Request, step: Awaitable[T]) -> T:
    """``step``, or TimeoutError once the client has been silent for the stall timeout."""
    async with asyncio.timeout(request.config_dict[_STALL_TIMEOUT_KEY]):
        return await step


async def _copy(request: web.Request, read: Callable[[int], Awaitable[bytes]], limit: int,
                code: str, write: Callable[[bytes], Any]) -> int:
    """Stream a body through ``write``, refusing it with 413 ``code`` once it passes ``limit``
    (counted after decompression, so a small gzip bomb is refused too) and with 408 when the
    client goes silent for the stall timeout."""
    total = 0
    with _body_errors():
        while chunk := await _in_time(request, read(CHUNK)):
            total += len(chunk)
            if total > limit:
                raise ApiError(413, code, f"the body exceeds {limit} bytes")
            write(chunk)
    return total


async def read_body(request: web.Request, limit: int, code: str) -> bytes:
    """A whole raw body of at most ``limit`` bytes (413 ``code`` beyond)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, code, f"the body exceeds {limit} bytes")
    buffer = bytearray()
    await _copy(request, request.content.read, limit, code, buffer.extend)
    return bytes(buffer)


async def read_image(request: web.Request) -> bytes:
    """The image of a raw body or of a multipart body's file field, at most 20 MiB."""
    if not request.content_type.startswith("multipart/"):
        return await read_body(request, MAX_IMAGE_BYTES, ImageTooLarge.code)
    if request.content_length is not None and request.content_length > MAX_IMAGE_BYTES + CHUNK:
        raise ApiError(413, ImageTooLarge.code, f"images are limited to {MAX_IMAGE_BYTES} bytes")
    buffer = bytearray()
    try:
        with _body_errors():
            reader = await request.multipart()
            while (part := await _in_time(request, reader.next())) is not None:
                if isinstance(part, BodyPartReader) and (
                    part.filename is not None or part.name in ("file", "image")
                ):
                    await _copy(request, part.read_chunk, MAX_IMAGE_BYTES, ImageTooLarge.code,
                                buffer.extend)
                    return bytes(buffer)
    except (HttpProcessingError, ValueError) as err:
        raise ApiError(400, "invalid_multipart", f"malformed multipart body: {err}") from None
    raise ApiError(400, InvalidImage.code, "the multipart body has no file field")


async def read_name(request: web.Request) -> str:
    """``{"name": ...}`` from a JSON body of at most 16 KiB. Strict UTF-8; a body nested too
    deeply for the parser is as invalid as a truncated one. The name itself is checked by the
    gallery (``store.names.clean_name``)."""
    raw = await read_body(request, MAX_JSON_BYTES, "request_too_large")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "invalid_json", "the body must be JSON: {\"name\": ...}") from None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str):
        raise ApiError(400, InvalidName.code, "the body must be {\"name\": \"<display name>\"}")
    return name


def ascii_int(raw: str) -> int | None:
    """The value of 1–19 ASCII digits that fits SQLite's int64, else None.

    ``int()`` is no parser for what a client sends: it reads ``'١'`` (Arabic-Indic one) as 1,
    takes ``' 1'``, ``'+1'`` and ``'1_0'``, and yields values SQLite cannot bind.
    """
    if _ASCII_DECIMAL.fullmatch(raw) is None:
        return None
    value = int(raw)
    return value if value <= INT64_MAX else None


def enrollment_warning(done: Enrollment) -> dict[str, str]:
    """``{"warning": "does_not_match_person"}`` for a forced photo unlike the person's others."""
    return {"warning": done.warning} if done.warning else {}


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
    value = ascii_int(raw)
    if value is None or not low <= value <= high:
        raise ApiError(400, "invalid_parameter",
                       f"'{name}' must be an integer from {low} to {high}")
    return value


def face_id(request: web.Request) -> int:
    """The ``{face_id}`` path level; anything but an id SQLite can hold names no face."""
    raw = request.match_info["face_id"]
    value = ascii_int(raw)
    if value is None:
        raise ApiError(404, UnknownFace.code, f"no face with id '{raw[:32]}'")
    return value


class Api:
    """Handlers named as in the route table; ``service`` does the work."""

    def __init__(self, service: ApiBackend) -> None:
        self.service = service
        self.access = Access(service.token, service.trusted_peers)
        self._openapi = openapi_document(service.version)
        self.closing = asyncio.Event()  # set at shutdown: live views end

    # -- middleware --------------------------------------------------------------------------
    def authorise(self, request: web.Request) -> None:
        """Bearer token, the Supervisor's ingress proxy or a web UI session (``access``), with
        the CSRF check for browser credentials; public paths (health, the login page, static
        files) need none. A browser without a session is sent to the login page."""
        public = request.path == API_BASE + "/health" or is_public(request.path)
        try:
            via = self.access.via(request)
            if via is None and not public:
                if is_page(request.path) and request.method in ("GET", "HEAD"):
                    raise web.HTTPSeeOther(login_location(request.path))
                raise ApiError(401, "unauthorized", "a valid bearer token is required")
            if via is not None and not public:
                self.access.check(request, via)
        except Denied as err:
            raise ApiError(err.status, err.code, err.message) from None

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Auth first, then errors turned into JSON 4xx answers."""
        try:
            self.authorise(request)
            return await handler(request)
        except ApiError as err:
            return error_response(err.status, err.code, err.message)
        except KnownFacesError as err:
            return error_response(status_of(err), err.code, err.message)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            kept = {h: err.headers[h] for h in _KEPT_HEADERS if h in err.headers}
            return error_response(err.status, _HTTP_CODES.get(err.status, "bad_request"),
                                  err.reason, kept)
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
        force = query_bool(request, "force", False)
        image = await read_image(request)
        done = await self.service.enroll(slug, image, source=source, force=force)
        return web.json_response({"face": done.face.as_dict(), "person": done.person.as_dict(),
                                  **enrollment_warning(done)}, status=201)

    async def forget_camera(self, request: web.Request) -> web.Response:
        """204 whether or not the camera ever reported: clearing is idempotent."""
        camera = request.match_info["camera"]
        if not valid_camera(camera):
            raise ApiError(400, "invalid_camera",
                           "camera names are 1–64 letters, digits, '_' or '-'")
        self.service.forget_camera(camera)
        return web.Response(status=204)

    async def enroll(self, request: web.Request) -> web.Response:
        """201 with the face, the person and whether the person was created; a refused photo
        is a 422 and creates nobody."""
        name = request.query.get("name")
        if name is None:
            raise ApiError(400, InvalidName.code, "the 'name' query parameter is required")
        source = request.query.get("source", "http")[:64]
        force = query_bool(request, "force", False)
        if "camera" in request.query:
            image = self.camera_frame(request)
        else:
            image = await read_image(request)
        done = await self.service.enroll_by_name(name, image, source=source, force=force)
        return web.json_response({"face": done.face.as_dict(), "person": done.person.as_dict(),
                                  "created": done.created, **enrollment_warning(done)},
                                 status=201)

    def camera_frame(self, request: web.Request) -> bytes:
        """The current frame of the stream camera named in the query (enroll the face in
        view): 404 for a camera without a stream, 422 before its first frame."""
        camera = stream_camera(request.query["camera"], self.service)
        frame = self.service.stream_frame(camera, annotated=False)
        if frame is None:
            raise EnrollmentRejected("the camera has sent no frame yet", code="no_frame")
        return frame

    async def live_view(self, request: web.Request) -> web.StreamResponse:
        """The annotated MJPEG stream (service/live_view.py)."""
        return await live_mjpeg(request, self.service, self.closing)

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
                await _copy(request, request.content.read, MAX_ARCHIVE_BYTES,
                            "request_too_large", sink.write)
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


class OneLineRefusals(logging.Filter):
    """aiohttp logs a request it cannot parse with a traceback and all of the offending bytes
    (a 180 KB header line is logged as 180 KB, for every such request): make that one line
    with the peer and the reason cut short, at warning level, since the fault is the client's.
    Every other record (a real bug in the server) keeps its traceback."""

    REASON_CHARS = 160

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a refusal in place; never drops a record."""
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, RequestPayloadError)):
            reason = " ".join(str(error).split())
            if len(reason) > self.REASON_CHARS:
                reason = reason[: self.REASON_CHARS] + "…"
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {reason}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


# The logger aiohttp's connection handlers report to (instead of ``aiohttp.server``).
SERVER_LOG = logging.getLogger(__name__ + ".server")
SERVER_LOG.addFilter(OneLineRefusals())


def build_app(service: ApiBackend, *, stall_timeout: float = STALL_TIMEOUT) -> web.Application:
    """The aiohttp application with every route of ``routes.ROUTES``.

    ``stall_timeout`` bounds every wait on a silent client: a connection whose request headers
    are not complete within it (or that stays idle that long between requests) is closed, a
    body that stops arriving for that long is answered 408, and the rest of a refused body is
    drained for at most that long before the connection closes.
    """
    from .visitor_api import VisitorApi  # its handlers use this module's helpers

    api = Api(service)
    handlers = (api, VisitorApi(service))
    app = web.Application(
        middlewares=[api.guard],
        client_max_size=MAX_IMAGE_BYTES + CHUNK,
        handler_args={"logger": SERVER_LOG, "keepalive_timeout": stall_timeout,
                      "lingering_time": stall_timeout},
    )
    app[_STALL_TIMEOUT_KEY] = stall_timeout
    app[ACCESS_KEY] = api.access

    async def end_live_views(_app: web.Application) -> None:
        api.closing.set()

    app.on_shutdown.append(end_live_views)
    for route in ROUTES:
        handler = next(getattr(h, route.handler) for h in handlers if hasattr(h, route.handler))
        app.router.add_route(route.method, API_BASE + route.path, handler)
    return app
