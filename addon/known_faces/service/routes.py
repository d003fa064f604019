"""The HTTP API's route table: one list that both the server and the OpenAPI document are built
from, so the document cannot describe a route the server lacks (or miss one it has).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

API_BASE = "/api/v1"


class Body(StrEnum):
    """What a request carries."""

    IMAGE = "image"
    NAME = "name"
    ARCHIVE = "archive"


@dataclass(frozen=True, slots=True)
class Query:
    """A query parameter."""

    name: str
    type: str
    description: str
    default: str | int | bool | None = None
    enum: tuple[str, ...] = ()
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
    query: tuple[Query, ...] = ()
    produces: str = "application/json"


_PERSON_ERRORS = (401, 404)
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Liveness, version, model and broker state.", (200,),
          auth=False),
    Route("POST", "/recognize", "recognize", "Recognise every face of one image.",
          (200, 400, 401, 413), body=Body.IMAGE,
          query=(Query("camera", "string", "Camera name reported in the results.", "http"),
                 Query("publish", "boolean",
                       "Also publish the events and states over MQTT, as for a snapshot.",
                       False))),
    Route("GET", "/people", "list_people", "Every enrolled person.", (200, 401)),
    Route("POST", "/people", "create_person", "Enroll a person (without faces yet).",
          (201, 400, 401, 409), body=Body.NAME),
    Route("GET", "/people/{slug}", "get_person", "One person with their faces.",
          (200, *_PERSON_ERRORS)),
    Route("PATCH", "/people/{slug}", "rename_person",
          "Change the display name; the slug never changes.", (200, 400, *_PERSON_ERRORS, 409),
          body=Body.NAME),
    Route("DELETE", "/people/{slug}", "delete_person",
          "Forget a person, with their crops and vectors.", (204, *_PERSON_ERRORS)),
    Route("GET", "/people/{slug}/faces", "list_faces", "A person's enrolled faces.",
          (200, *_PERSON_ERRORS)),
    Route("POST", "/people/{slug}/faces", "add_face",
          "Add a face from a photo showing exactly one clear face.",
          (201, 400, *_PERSON_ERRORS, 413, 422), body=Body.IMAGE,
          query=(Query("source", "string", "Where the photo came from (kept with the face).",
                       "http"),)),
    Route("POST", "/enroll", "enroll", "Add a photo's face to the person of that name, "
          "creating the person only if the face is accepted.",
          (201, 400, 401, 413, 422), body=Body.IMAGE,
          query=(Query("name", "string", "The person's display name.", required=True),
                 Query("source", "string", "Where the photo came from (kept with the face).",
                       "http"))),
    Route("DELETE", "/people/{slug}/faces/{face_id}", "delete_face", "Remove one face.",
          (204, *_PERSON_ERRORS)),
    Route("GET", "/people/{slug}/faces/{face_id}/crop", "face_crop",
          "The aligned 112×112 face crop.", (200, *_PERSON_ERRORS), produces="image/jpeg"),
    Route("GET", "/events", "events", "Recent person_detected events, newest first.",
          (200, 400, 401), query=(Query("limit", "integer", "How many (1–500).", 50),)),
    Route("GET", "/export", "export", "The whole gallery as one archive.", (200, 401),
          produces="application/zip"),
    Route("POST", "/import", "import_archive", "Load an archive made by export.",
          (200, 400, 401, 413), body=Body.ARCHIVE,
          query=(Query("mode", "string", "Add to the gallery or replace it.", "merge",
                       ("merge", "replace")),)),
    Route("GET", "/metrics", "metrics", "Prometheus metrics.", (200, 401),
          produces="text/plain"),
    Route("GET", "/openapi.json", "openapi", "This document.", (200, 401)),
)
