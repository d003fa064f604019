"""The HTTP API's route table: one list that both the server and the OpenAPI document are built
from, so the document cannot describe a route the server lacks (or miss one it has).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..sources.cameras import CAMERA_RE
from ..store.names import MAX_NAME_LENGTH, SLUG_PATTERN, name_pattern
from ..store.visitors import VISITOR_PATTERN

API_BASE = "/api/v1"

# The limits the server enforces, stated once so the OpenAPI document states the same ones
# (the image limit is the decoder's: pipeline.decode.MAX_IMAGE_BYTES).
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024
MAX_EVENTS = 500
MAX_VISITORS_PAGE = 500
INT64_MAX = 2**63 - 1  # SQLite's largest integer: the face id range
LIVE_BOUNDARY = "frame"  # the MJPEG live view's part separator


class Body(StrEnum):
    """What a request carries."""

    IMAGE = "image"
    NAME = "name"
    ARCHIVE = "archive"
    ASSIGN = "assign"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter, with the limits the handler checks it against."""

    name: str
    type: str
    description: str
    default: str | int | bool | None = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    example: str | int | None = None
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: how it is reached, what it takes and what it answers."""

    method: str
    path: str
    handler: str
    summary: str
    responses: tuple[int, ...]
    auth: bool = True
    body: Body | None = None
    query: tuple[Param, ...] = ()
    produces: str = "application/json"
    answer: str | None = None  # the OpenAPI schema (components) of the success body
    body_required: bool = True


# Path levels (``{slug}``, ``{face_id}``) mean the same in every route.
PATH_PARAMS: dict[str, Param] = {
    "slug": Param("slug", "string", "The person's slug (from the name; never changes).",
                  pattern=SLUG_PATTERN, example="barack_obama"),
    "face_id": Param("face_id", "integer", "The face's id.", minimum=1, maximum=INT64_MAX,
                     example=1),
    "camera": Param("camera", "string", "A camera's name.", pattern=CAMERA_RE,
                    example="front_door"),
}
# A display name, wherever it is given (JSON body or query): what ``store.names`` accepts.
NAME = Param("name", "string",
             "The display name: any text without '/', '\\', control, invisible or "
             "direction-control characters; NFC-normalised, white space trimmed and collapsed.",
             min_length=1, max_length=MAX_NAME_LENGTH, pattern=name_pattern(), required=True)
_SOURCE = Param("source", "string",
                "Where the photo came from (kept with the face, cut to 64 characters).", "http")
_FORCE = Param("force", "boolean",
               "Add the photo even if it does not resemble the person's other photos (then "
               "answered with warning: does_not_match_person).", False)


_PERSON_ERRORS = (401, 404)
_BODY_ERRORS = (400, 408)  # bad body; body stopped arriving
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Liveness, version, model and broker state.", (200,),
          auth=False, answer="Health"),
    Route("POST", "/recognize", "recognize", "Recognise every face of one image.",
          (200, *_BODY_ERRORS, 401, 413, 503), body=Body.IMAGE, answer="Recognition",
          query=(Param("camera", "string", "Camera name reported in the results.", "http",
                       pattern=CAMERA_RE),
                 Param("publish", "boolean",
                       "Also publish the events and states over MQTT, as for a snapshot.",
                       False))),
    Route("GET", "/people", "list_people", "Every enrolled person.", (200, 401),
          answer="People"),
    Route("POST", "/people", "create_person", "Enroll a person (without faces yet).",
          (201, *_BODY_ERRORS, 401, 409, 413), body=Body.NAME, answer="Person"),
    Route("GET", "/people/{slug}", "get_person", "One person with their faces.",
          (200, *_PERSON_ERRORS), answer="PersonWithFaces"),
    Route("PATCH", "/people/{slug}", "rename_person",
          "Change the display name; the slug never changes.",
          (200, *_BODY_ERRORS, *_PERSON_ERRORS, 409, 413), body=Body.NAME, answer="Person"),
    Route("DELETE", "/people/{slug}", "delete_person",
          "Forget a person, with their crops and vectors.", (204, *_PERSON_ERRORS)),
    Route("GET", "/people/{slug}/faces", "list_faces", "A person's enrolled faces.",
          (200, *_PERSON_ERRORS), answer="Faces"),
    Route("POST", "/people/{slug}/faces", "add_face",
          "Add a face from a photo showing exactly one clear face.",
          (201, *_BODY_ERRORS, *_PERSON_ERRORS, 413, 422), body=Body.IMAGE, answer="FaceAdded",
          query=(_SOURCE, _FORCE)),
    Route("POST", "/enroll", "enroll", "Add a photo's face to the person of that name, "
          "creating the person only if the face is accepted; with `camera`, the face in view "
          "of that stream camera instead of a photo.",
          (201, *_BODY_ERRORS, 401, 404, 413, 422), body=Body.IMAGE, answer="Enrolled",
          query=(NAME, _SOURCE, _FORCE, Param(
              "camera", "string", "Enroll from this stream camera's current frame (no body).",
              pattern=CAMERA_RE)), body_required=False),
    Route("DELETE", "/people/{slug}/faces/{face_id}", "delete_face", "Remove one face.",
          (204, *_PERSON_ERRORS)),
    Route("GET", "/people/{slug}/faces/{face_id}/crop", "face_crop",
          "The aligned face crop (224×224; 112×112 for faces from before the dlib model).",
          (200, *_PERSON_ERRORS), produces="image/jpeg"),
    Route("DELETE", "/cameras/{camera}", "forget_camera",
          "Clear a camera's retained state and face crop, so Home Assistant removes its "
          "device; it comes back if the camera reports again.", (204, 400, 401)),
    Route("GET", "/events", "events", "Recent person_detected events, newest first.",
          (200, 400, 401), answer="Events",
          query=(Param("limit", "integer", f"How many (1–{MAX_EVENTS}).", 50, minimum=1,
                       maximum=MAX_EVENTS),)),
    Route("GET", "/export", "export", "The whole gallery as one archive.", (200, 401),
          produces="application/zip"),
    Route("POST", "/import", "import_archive", "Load an archive made by export.",
          (200, *_BODY_ERRORS, 401, 413), body=Body.ARCHIVE, answer="Imported",
          query=(Param("mode", "string", "Add to the gallery or replace it.", "merge",
                       ("merge", "replace")),)),
    Route("GET", "/metrics", "metrics", "Prometheus metrics.", (200, 401),
          produces="text/plain"),
    Route("GET", "/openapi.json", "openapi", "This document.", (200, 401)),
    Route("GET", "/cameras/{camera}/live.mjpg", "live_view",
          "A stream camera's live view with faces, names and scores drawn (MJPEG).",
          (200, 401, 404), produces=f"multipart/x-mixed-replace; boundary={LIVE_BOUNDARY}"),
)

# Visitors and search (DESIGN §9).
PATH_PARAMS["visitor"] = Param("visitor", "string", "The visitor's id (v_0001, …).",
                               pattern=VISITOR_PATTERN, example="v_0001")
_VISITOR_ERRORS = (401, 404)
_THRESHOLD = Param("threshold", "number",
                   "Lowest score listed (0–1; default: the service's visitor_threshold).",
                   minimum=0, maximum=1)
ROUTES += (
    Route("GET", "/visitors", "list_visitors", "Visitors (unknown faces grouped), last seen "
          "first.", (200, 400, 401), answer="Visitors",
          query=(Param("status", "string", "Only those awaiting review, or only ignored ones.",
                       enum=("pending", "ignored")),
                 Param("limit", "integer", f"How many per page (1–{MAX_VISITORS_PAGE}).", 100,
                       minimum=1, maximum=MAX_VISITORS_PAGE),
                 Param("offset", "integer", "How many to skip: the previous page's next_offset.",
                       0, minimum=0, maximum=INT64_MAX))),
    Route("GET", "/visitors/{visitor}", "get_visitor", "One visitor with its kept sightings.",
          (200, *_VISITOR_ERRORS), answer="VisitorWithSightings"),
    Route("GET", "/visitors/{visitor}/crop", "visitor_crop",
          "A visitor's best face crop, or one sighting's.", (200, 400, *_VISITOR_ERRORS),
          produces="image/jpeg",
          query=(Param("sighting", "integer", "The sighting's id.", minimum=1,
                       maximum=INT64_MAX),)),
    Route("POST", "/visitors/{visitor}/assign", "assign_visitor",
          "Make a visitor a person: its crops that pass the enrollment gates are enrolled, "
          "its sightings become the person's history.",
          (200, *_BODY_ERRORS, *_VISITOR_ERRORS, 409, 413, 422), body=Body.ASSIGN,
          answer="Assigned"),
    Route("POST", "/visitors/{visitor}/ignore", "ignore_visitor",
          "Ignore a visitor: faces matching it are published as ignored, never unknown.",
          (200, *_VISITOR_ERRORS), answer="Visitor"),
    Route("DELETE", "/visitors/{visitor}/ignore", "unignore_visitor",
          "Stop ignoring a visitor.", (200, *_VISITOR_ERRORS), answer="Visitor"),
    Route("POST", "/visitors/{visitor}/merge", "merge_visitor",
          "Merge a visitor into another one (its sightings and counts move).",
          (200, *_BODY_ERRORS, *_VISITOR_ERRORS, 413), body=Body.MERGE, answer="Visitor"),
    Route("DELETE", "/visitors/{visitor}", "forget_visitor",
          "Forget a visitor, with its crops and vectors.", (204, *_VISITOR_ERRORS)),
    Route("POST", "/search", "search", "Every face of an image: the people, visitors and "
          "past sightings it matches.", (200, *_BODY_ERRORS, 401, 413, 503), body=Body.IMAGE,
          answer="Search", query=(_THRESHOLD,)),
)
