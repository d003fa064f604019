"""The web UI's aiohttp handlers: one per page, plus the images and the live event feed the
pages load (DESIGN §12).

Pages only read; every change a page makes goes through the HTTP API (``api/v1/...``) from
``static/app.js``, so the API's checks (names, quality gates, limits) are the UI's checks too.
The one exception, enrolling a face of a camera's last snapshot, exists only here because only
the UI keeps those snapshots; it goes through the same enrollment as an upload.
The Visitors and Search pages are drawn in the browser from the visitors API (DESIGN §9); on a
service without that API they say so instead of calling it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from ..publish import payloads
from ..service.access import Access
from ..service.http_api import ACCESS_KEY, ApiError, read_body
from ..service.recent import RecentEvent
from ..service.routes import API_BASE, MAX_JSON_BYTES
from ..sources.cameras import valid_camera
from .backend import UiBackend
from .calibration import Calibration, calibrate, histogram_svg
from .paths import LOGIN, root_of
from .render import STATIC, page, render_text
from .snapshots import annotated, face_region

EVENT_STATUSES = ("known", "unknown", "ignored")
# Visitor cards per page load and per "Show more" (each card loads a crop).
VISITORS_PAGE = 48
HEALTH_SHOWN = frozenset({"status", "service", "version", "model", "mqtt", "topic_prefix",
                          "people", "instance_id", "gallery_problems"})


def _keep(event: RecentEvent, camera: str, person: str, status: str) -> bool:
    """Whether an event passes the Events page's filters (empty means any)."""
    return ((not camera or event.event.get("camera") == camera)
            and (not person or event.event.get("person") == person)
            and (not status or event.status == status))


class Pages:
    """Handlers of every page; ``service`` holds the data, ``access`` the CSRF tokens."""

    def __init__(self, service: UiBackend, access: Access) -> None:
        self.service = service
        self.access = access

    def _api_has(self, request: web.Request, path: str) -> bool:
        """Whether this service serves an API route (the visitors API arrives separately)."""
        return any(getattr(r.resource, "canonical", None) == API_BASE + path
                   for r in request.app.router.routes())

    # -- login -------------------------------------------------------------------------------
    async def login_form(self, request: web.Request) -> web.Response:
        """The one question a standalone browser is asked: the API token."""
        return page(request, self.access, "login.html", active="login", title="Sign in",
                    error=None)

    async def login(self, request: web.Request) -> web.Response:
        """A right token gets the session cookie and the People page; a wrong one the form
        again, with a 401."""
        form = parse_qs((await read_body(request, MAX_JSON_BYTES, "request_too_large"))
                        .decode("utf-8", "replace"))
        token = form.get("token", [""])[0]
        if not self.access.token_matches(token):
            return page(request, self.access, "login.html", active="login", title="Sign in",
                        error="That is not this service's API token.", status=401)
        response = web.Response(status=303, headers={"Location": root_of(request.path)})
        self.access.set_session(response, self.access.new_session(), secure=request.secure)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        """Forget the session cookie (the request carried the CSRF token: checked by the
        guard)."""
        response = web.Response(status=303, headers={"Location": root_of(request.path) + LOGIN})
        self.access.clear_session(response)
        return response

    # -- people ------------------------------------------------------------------------------
    async def people(self, request: web.Request) -> web.Response:
        """Everybody with their photos, and the upload form that enrolls."""
        people = await self.service.gallery_call(
            lambda g: [(p, g.faces(p.slug)) for p in g.people()])
        return page(request, self.access, "people.html", active="", title="People",
                    people=people)

    async def person(self, request: web.Request) -> web.Response:
        """One person: every photo with its quality, rename, forget, add a photo."""
        slug = request.match_info["slug"]
        person, faces = await self.service.gallery_call(lambda g: (g.person(slug),
                                                                   g.faces(slug)))
        return page(request, self.access, "person.html", active="", title=person.name,
                    person=person, faces=faces)

    # -- events ------------------------------------------------------------------------------
    def _filters(self, request: web.Request) -> tuple[str, str, str]:
        camera = request.query.get("camera", "")
        person = request.query.get("person", "")
        status = request.query.get("status", "")
        return camera, person, status if status in EVENT_STATUSES else ""

    async def events(self, request: web.Request) -> web.Response:
        """Recent events with their crops, filtered; the page polls ``events/feed``."""
        camera, person, status = self._filters(request)
        recent = self.service.recent.events()
        shown = [e for e in recent if _keep(e, camera, person, status)]
        people = await self.service.gallery_call(lambda g: g.people())
        return page(request, self.access, "events.html", active="events", title="Events",
                    events=shown, last=recent[0].seq if recent else 0,
                    cameras=sorted({str(e.event.get("camera")) for e in recent}
                                   | set(self.service.settings.cameras)),
                    people=people, statuses=EVENT_STATUSES,
                    filters={"camera": camera, "person": person, "status": status})

    async def events_feed(self, request: web.Request) -> web.Response:
        """Events newer than ``after``, as the HTML the page inserts, and the newest number."""
        raw = request.query.get("after", "0")
        after = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else 0
        camera, person, status = self._filters(request)
        recent = self.service.recent.events(after)
        html = render_text("_events.html", events=[e for e in recent
                                                   if _keep(e, camera, person, status)])
        return web.json_response({"last": recent[0].seq if recent else after, "html": html},
                                 headers={"Cache-Control": "no-store"})

    async def event_crop(self, request: web.Request) -> web.Response:
        """The face crop of a recent event."""
        raw = request.match_info["seq"]
        event = self.service.recent.event(int(raw)) if raw.isdigit() and len(raw) < 19 else None
        if event is None or event.crop is None:
            raise web.HTTPNotFound(reason="no such recent event")
        return web.Response(body=event.crop, content_type="image/jpeg")

    # -- cameras -----------------------------------------------------------------------------
    def _thresholds(self, camera: str) -> dict[str, Any]:
        settings = self.service.settings
        override = settings.cameras.get(camera)
        threshold = override.match_threshold if override else None
        margin = override.margin if override else None
        return {"threshold": settings.match_threshold if threshold is None else threshold,
                "margin": settings.margin if margin is None else margin,
                "overridden": threshold is not None or margin is not None,
                "stream": bool(getattr(override, "stream", None))}

    async def cameras(self, request: web.Request) -> web.Response:
        """Every configured or recently seen camera: last snapshot, thresholds, live view."""
        recent = self.service.recent
        names = sorted(set(self.service.settings.cameras) | set(recent.cameras()))
        cameras = []
        for name in names:
            view = recent.camera(name)
            cameras.append({"name": name, **self._thresholds(name),
                            "time": view.result.time.isoformat() if view else None,
                            "faces": [payloads.face_fields(view.result, f, "")
                                      | {"status": f.status.value}
                                      for f in view.result.faces] if view else []})
        people = await self.service.gallery_call(lambda g: g.people())
        return page(request, self.access, "cameras.html", active="cameras", title="Cameras",
                    cameras=cameras, people=people)

    async def camera_snapshot(self, request: web.Request) -> web.Response:
        """A camera's last snapshot with every face's box and label drawn on it."""
        camera = request.match_info["camera"]
        view = self.service.recent.camera(camera) if valid_camera(camera) else None
        if view is None:
            raise web.HTTPNotFound(reason="no recent snapshot of this camera")

        return web.Response(body=await asyncio.to_thread(annotated, view),
                            content_type="image/jpeg",
                            headers={"Cache-Control": "no-store"})

    async def enroll_from_camera(self, request: web.Request) -> web.Response:
        """Enroll one face of a camera's last snapshot under a name (``{"face": i, "name":
        ...}``): the face with some context goes through the same gates as an upload."""
        camera = request.match_info["camera"]
        view = self.service.recent.camera(camera) if valid_camera(camera) else None
        if view is None:
            raise ApiError(404, "unknown_camera", "no recent snapshot of this camera")
        raw = await read_body(request, MAX_JSON_BYTES, "request_too_large")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_json", 'the body must be {"face": i, "name": ...}'
                           ) from None
        index = body.get("face") if isinstance(body, dict) else None
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str):
            raise ApiError(400, "invalid_name", 'the body must be {"face": i, "name": ...}')
        if type(index) is not int or not 0 <= index < len(view.result.faces):
            raise ApiError(404, "unknown_face", f"the last snapshot of {camera} has no such face")
        image = await asyncio.to_thread(face_region, view, index)
        done = await self.service.enroll_by_name(name, image, source=f"camera:{camera}")
        return web.json_response({"face": done.face.as_dict(), "person": done.person.as_dict(),
                                  "created": done.created}, status=201)

    # -- calibration and health --------------------------------------------------------------
    async def calibration(self, request: web.Request) -> web.Response:
        """Genuine and impostor score histograms of the gallery with the settings marked."""
        settings = self.service.settings
        recognizer = self.service.recognizer

        def scored() -> Calibration:
            visitors = recognizer.visitors.pending_vectors() if recognizer.keep_unknown else []
            return calibrate(recognizer.fused, settings.match_threshold, settings.margin,
                             visitors)

        result = await asyncio.to_thread(scored)
        scores = histogram_svg({"genuine": result.genuine, "impostor": result.impostor},
                               {"threshold": settings.match_threshold}, low=-0.25, high=1.0,
                               title="Scores of pairs of gallery photos")
        leads = histogram_svg({"lead": result.leads}, {"margin": settings.margin}, low=-0.5,
                              high=1.0, title="Lead of each photo's own person over the "
                              "best other person")
        return page(request, self.access, "calibration.html", active="calibration",
                    title="Calibration", result=result, scores_svg=scores, leads_svg=leads,
                    threshold=settings.match_threshold, margin=settings.margin)

    async def health(self, request: web.Request) -> web.Response:
        """Versions, models, the broker link and the counters that tell whether all is well."""
        metrics = self.service.metrics
        latency = metrics.latency_seconds
        observed = sum(sum(c) for c in latency.counts.values())
        figures = {
            "Snapshots received": sum(metrics.received.values.values()),
            "Snapshots recognised": sum(metrics.processed.values.values()),
            "Snapshots replaced before recognition": sum(metrics.dropped.values.values()),
            "Snapshots refused": sum(metrics.failed.values.values()),
            "Events published": sum(metrics.events.values.values()),
            "MQTT messages dropped": sum(metrics.publish_dropped.values.values()),
        }
        faces: dict[str, float] = {}
        for labels, value in metrics.faces.values.items():
            status = dict(labels).get("status", "?")
            faces[status] = faces.get(status, 0) + value
        mean_ms = (sum(latency.sums.values()) / observed * 1000) if observed else None
        health = self.service.health()
        # What later parts add to /health (Frigate, streams, visitors) is listed as it is.
        extra = {key: value if isinstance(value, str | int | float) else json.dumps(value)
                 for key, value in health.items() if key not in HEALTH_SHOWN}
        return page(request, self.access, "health.html", active="health", title="Health",
                    health=health, extra=extra, figures=figures, faces=faces,
                    mean_ms=mean_ms, settings=self.service.settings)

    # -- visitors and search (drawn in the browser from the visitors API) --------------------
    async def visitors(self, request: web.Request) -> web.Response:
        """Visitors awaiting review and the ignored ones."""
        people = await self.service.gallery_call(lambda g: g.people())
        return page(request, self.access, "visitors.html", active="visitors",
                    title="Visitors", available=self._api_has(request, "/visitors"),
                    people=people, page_size=VISITORS_PAGE)

    async def search(self, request: web.Request) -> web.Response:
        """Drop a photo, see every past sighting of its faces."""
        return page(request, self.access, "search.html", active="search", title="Search",
                    available=self._api_has(request, "/search"))


def mount(app: web.Application, service: UiBackend) -> None:
    """Add the web UI's routes and static files to the service's application (made by
    ``http_api.build_app``, whose guard checks every request before these handlers run)."""
    pages = Pages(service, app[ACCESS_KEY])
    add = app.router.add_route
    add("GET", "/", pages.people)
    add("GET", "/people/{slug}", pages.person)
    add("GET", "/events", pages.events)
    add("GET", "/events/feed", pages.events_feed)
    add("GET", "/events/{seq}/crop.jpg", pages.event_crop)
    add("GET", "/cameras", pages.cameras)
    add("GET", "/cameras/{camera}/snapshot.jpg", pages.camera_snapshot)
    add("POST", "/cameras/{camera}/enroll", pages.enroll_from_camera)
    add("GET", "/calibration", pages.calibration)
    add("GET", "/health", pages.health)
    add("GET", "/visitors", pages.visitors)
    add("GET", "/search", pages.search)
    add("GET", "/" + LOGIN, pages.login_form)
    add("POST", "/" + LOGIN, pages.login)
    add("POST", "/logout", pages.logout)
    app.router.add_static("/static/", STATIC)
