"""The HTTP handlers of visitors and search (DESIGN §9), named as in ``routes.ROUTES``.

They follow the rest of the API (``http_api``): bodies read with hard limits, ids and query
parameters parsed before use, every refusal a JSON 4xx. A visitor id that names no visitor
(never had, forgotten, merged, assigned, purged, or not an id at all) is a 404.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import InvalidName
from ..publish import payloads
from .http_api import ApiError, ascii_int, query_int, read_body, read_image
from .routes import API_BASE, INT64_MAX, MAX_JSON_BYTES, MAX_VISITORS_PAGE

if TYPE_CHECKING:
    from .api_backend import ApiBackend

_NUMBER = re.compile(r"[0-9]{1,3}(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,3})?|\.[0-9]{1,17}")
STATUSES = ("pending", "ignored")


async def read_object(request: web.Request, shape: str) -> dict[str, Any]:
    """A JSON object body of at most 16 KiB (``shape`` says what it should look like)."""
    raw = await read_body(request, MAX_JSON_BYTES, "request_too_large")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", f"the body must be JSON: {shape}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", f"the body must be {shape}")
    return body


def threshold(request: web.Request) -> float | None:
    """The ``threshold`` query parameter: a plain decimal from 0 to 1, or None."""
    raw = request.query.get("threshold")
    if raw is None:
        return None
    value = float(raw) if _NUMBER.fullmatch(raw) else math.nan
    if not 0.0 <= value <= 1.0:
        raise ApiError(400, "invalid_parameter", "'threshold' must be a number from 0 to 1")
    return value


class VisitorApi:
    """Visitor review and search handlers; ``service`` does the work."""

    def __init__(self, service: ApiBackend) -> None:
        self.service = service

    async def list_visitors(self, request: web.Request) -> web.Response:
        """One page of visitors, last seen first, optionally only pending or ignored ones, with
        the total of that status and the next page's offset (a busy street gives thousands)."""
        status = request.query.get("status")
        if status is not None and status not in STATUSES:
            raise ApiError(400, "invalid_parameter", "'status' must be pending or ignored")
        limit = query_int(request, "limit", 100, 1, MAX_VISITORS_PAGE)
        offset = query_int(request, "offset", 0, 0, INT64_MAX)
        (found, next_offset), total = await self.service.visitor_call(
            lambda v: (v.page(status, limit, offset), v.count(status)))
        return web.json_response({"visitors": [payloads.visitor(v, API_BASE) for v in found],
                                  "total": total, "next_offset": next_offset})

    async def get_visitor(self, request: web.Request) -> web.Response:
        """One visitor with its kept sightings."""
        text = request.match_info["visitor"]
        found, sightings = await self.service.visitor_call(
            lambda v: (v.get(text), v.sightings(text)))
        return web.json_response(payloads.visitor_detail(found, sightings, API_BASE))

    async def visitor_crop(self, request: web.Request) -> web.Response:
        """The best crop, or the one of ``?sighting=``."""
        text = request.match_info["visitor"]
        raw = request.query.get("sighting")
        sighting = None if raw is None else ascii_int(raw)
        if raw is not None and not sighting:
            raise ApiError(400, "invalid_parameter", "'sighting' must be a sighting's id")
        crop = await self.service.visitor_call(lambda v: v.crop(text, sighting))
        return web.Response(body=crop, content_type="image/jpeg")

    async def assign_visitor(self, request: web.Request) -> web.Response:
        """Assign to ``{"person": slug}`` or to a new ``{"name": ...}``."""
        text = request.match_info["visitor"]
        shape = '{"person": "<slug>"} or {"name": "<new name>"}'
        body = await read_object(request, shape)
        person, name = body.get("person"), body.get("name")
        if (person is None) == (name is None):
            raise ApiError(400, "invalid_body", f"the body must be {shape}")
        if person is not None and not isinstance(person, str):
            raise ApiError(400, "invalid_body", "'person' must be a slug")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, InvalidName.code, "'name' must be a display name")
        answer = await self.service.assign_visitor(text, person=person, name=name)
        return web.json_response(answer)

    async def ignore_visitor(self, request: web.Request) -> web.Response:
        """Faces matching it become ``ignored``."""
        return await self._set_ignored(request, True)

    async def unignore_visitor(self, request: web.Request) -> web.Response:
        """Faces matching it are ``unknown`` again."""
        return await self._set_ignored(request, False)

    async def _set_ignored(self, request: web.Request, ignored: bool) -> web.Response:
        text = request.match_info["visitor"]
        found = await self.service.visitor_call(lambda v: v.set_ignored(text, ignored),
                                                changes=True)
        return web.json_response(payloads.visitor(found, API_BASE))

    async def merge_visitor(self, request: web.Request) -> web.Response:
        """Merge into ``{"into": id}``."""
        text = request.match_info["visitor"]
        body = await read_object(request, '{"into": "<visitor id>"}')
        into = body.get("into")
        if not isinstance(into, str):
            raise ApiError(400, "invalid_body", 'the body must be {"into": "<visitor id>"}')
        found = await self.service.visitor_call(lambda v: v.merge(text, into), changes=True)
        return web.json_response(payloads.visitor(found, API_BASE))

    async def forget_visitor(self, request: web.Request) -> web.Response:
        """204; its crops and vectors are deleted."""
        text = request.match_info["visitor"]
        await self.service.visitor_call(lambda v: v.forget(text), changes=True)
        return web.Response(status=204)

    async def search(self, request: web.Request) -> web.Response:
        """Per face of the image: people, visitors and past sightings."""
        limit = threshold(request)
        image = await read_image(request)
        return web.json_response(await self.service.search(image, limit))
