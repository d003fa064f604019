"""The OpenAPI 3 document of the HTTP API, generated from the route table.

It states the limits the handlers enforce (name length and characters, body sizes, id and
limit ranges, enums) and the shape of every answer, so a client generated from it, or
schemathesis run against it, sends what the server accepts and can check what it gets back.
"""

from __future__ import annotations

import re
from typing import Any

from ..pipeline.decode import MAX_IMAGE_BYTES
from ..pipeline.results import FaceStatus
from .routes import (
    API_BASE,
    MAX_ARCHIVE_BYTES,
    MAX_JSON_BYTES,
    NAME,
    PATH_PARAMS,
    ROUTES,
    Body,
    Param,
    Route,
)

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "Done, no content",
    400: "Bad input (error code in the body)",
    401: "Missing or wrong bearer token",
    404: "No such person, face or visitor",
    408: "The body stopped arriving",
    409: "Name already taken (assign: use the person's slug)",
    413: "Body too large",
    422: "Enrollment photo rejected (no_face, several_faces, too_small, blurred, low_quality, "
         "does_not_match_person: unlike the person's other photos, add it with force=true)",
    503: "Busy: retry after the Retry-After seconds",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """An object schema; more properties may be added in later versions."""
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}}


_TEXT = {"type": "string"}
_INT = {"type": "integer"}
_NUMBER = {"type": "number"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TEXT = {"type": "string", "nullable": True}
_NULLABLE_NUMBER = {"type": "number", "nullable": True}
_CANDIDATE = _object({"person": _TEXT, "name": _TEXT, "similarity": _NUMBER})
_NULLABLE_CANDIDATE = {**_CANDIDATE, "nullable": True}
_SCORE = {"type": "number", "minimum": -1, "maximum": 1}
# One face as the person_detected events report it (DESIGN §5; publish.payloads.face_fields).
_EVENT = _object(
    {"event_id": _TEXT, "snapshot_id": _TEXT, "camera": _TEXT, "time": _TIME,
     "known": {"type": "boolean"}, "person": _NULLABLE_TEXT, "name": _NULLABLE_TEXT,
     "similarity": {**_SCORE, "nullable": True}, "threshold": _NULLABLE_NUMBER,
     "margin": _NULLABLE_NUMBER, "second": _NULLABLE_CANDIDATE,
     "best_guess": _NULLABLE_CANDIDATE,
     "box": {"type": "array", "items": _INT, "minItems": 4, "maxItems": 4},
     "face_px": {"type": "integer", "minimum": 0},
     "detection_score": {"type": "number", "minimum": 0, "maximum": 1},
     "face_count": {"type": "integer", "minimum": 0}, "source": _TEXT, "model": _TEXT,
     "latency_ms": {"type": "number", "minimum": 0}},
    # Strangers (DESIGN §9; publish.payloads.visitor_fields): null for known faces.
    {"status": {"type": "string", "enum": [status.value for status in FaceStatus]},
     "visitor": {"type": "string", "pattern": r"^v_[0-9]{4,19}$", "nullable": True},
     "visitor_sightings": {"type": "integer", "minimum": 1, "nullable": True},
     "visitor_sightings_24h": {"type": "integer", "minimum": 1, "nullable": True}},
)
# /recognize reports every face, gated or not, with why it was or was not named.
_FACE_RESULT = {"allOf": [_EVENT, _object(
    {"status": {"type": "string", "enum": [status.value for status in FaceStatus]}})]}
_PERSON = _object({"person": _TEXT, "name": _TEXT,
                   "face_count": {"type": "integer", "minimum": 0}, "created": _TIME})
_FACE = _object({"id": {"type": "integer", "minimum": 1}, "person": _TEXT, "source": _TEXT,
                 "quality": {"type": "object", "additionalProperties": _NUMBER},
                 "created": _TIME})
# A forced enrollment of a photo unlike the person's others says so.
_WARNING = {"warning": {"type": "string", "enum": ["does_not_match_person"]}}
_SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": _TEXT, "message": _TEXT}),
    "Health": _object({"status": {"type": "string", "enum": ["ok", "degraded"]},
                       "service": {"type": "string", "enum": ["known_faces"]},
                       "version": _TEXT, "instance_id": _TEXT, "model": _TEXT,
                       "people": {"type": "integer", "minimum": 0},
                       "mqtt": {"type": "string", "enum": ["connected", "disconnected"]},
                       "topic_prefix": _TEXT,
                       "mode": {"type": "string", "enum": ["accurate", "fast"]},
                       "models": {"type": "array", "items": _TEXT, "minItems": 1},
                       "gallery_problems": {"type": "array", "items": _TEXT}}),
    "Recognition": _object({"snapshot_id": _TEXT, "camera": _TEXT, "time": _TIME,
                            "face_count": {"type": "integer", "minimum": 0},
                            "latency_ms": _NUMBER,
                            "faces": {"type": "array", "items": _FACE_RESULT}}),
    "Person": _PERSON,
    "PersonWithFaces": {"allOf": [_ref("Person"),
                                  _object({"faces": {"type": "array", "items": _FACE}})]},
    "People": _object({"people": {"type": "array", "items": _ref("Person")}}),
    "Face": _FACE,
    "Faces": _object({"faces": {"type": "array", "items": _ref("Face")}}),
    "FaceAdded": _object({"face": _ref("Face"), "person": _ref("Person")}, _WARNING),
    "Enrolled": _object({"face": _ref("Face"), "person": _ref("Person"),
                         "created": {"type": "boolean"}}, _WARNING),
    "Events": _object({"events": {"type": "array", "items": _EVENT}}),
    "Imported": _object({"people": {"type": "integer", "minimum": 0},
                         "faces": {"type": "integer", "minimum": 0}}),
}

# Visitors and search (DESIGN §9).
_COUNT = {"type": "integer", "minimum": 0}
_VISITOR = _object({"visitor": _TEXT, "status": {"type": "string", "enum": ["pending", "ignored"]},
                    "first_seen": _TIME, "last_seen": _TIME, "sightings": _COUNT,
                    "cameras": {"type": "array", "items": _TEXT}, "crop_url": _TEXT},
                   {"score": _NUMBER})
_SIGHTING = _object({"id": {"type": "integer", "minimum": 1}, "time": _TIME, "camera": _TEXT,
                     "seen_as": _TEXT},
                    {"visitor": _NULLABLE_TEXT, "person": _NULLABLE_TEXT,
                     "score": _NULLABLE_NUMBER, "crop_url": _NULLABLE_TEXT,
                     "quality": {"type": "object", "additionalProperties": _NUMBER}})
_SCHEMAS.update({
    "Visitor": _VISITOR,
    "Visitors": _object({"visitors": {"type": "array", "items": _ref("Visitor")},
                         "total": _COUNT,
                         "next_offset": {"type": "integer", "minimum": 0, "nullable": True}}),
    "VisitorWithSightings": {"allOf": [_ref("Visitor"), _object(
        {"kept_sightings": {"type": "array", "items": _SIGHTING}})]},
    "Assigned": _object({"person": _ref("Person"), "created": {"type": "boolean"},
                         "faces": {"type": "array", "items": {"type": "integer"}},
                         "refused": {"type": "array", "items": _object(
                             {"sighting": _INT, "error": _TEXT, "message": _TEXT})},
                         "sightings_moved": _COUNT}),
    "Search": _object({"faces": {"type": "array", "items": _object(
        {"box": {"type": "array", "items": _INT, "minItems": 4, "maxItems": 4},
         "face_px": _INT, "people": {"type": "array", "items": _CANDIDATE},
         "visitors": {"type": "array", "items": _ref("Visitor")},
         "sightings": {"type": "array", "items": _SIGHTING}})}}),
})
_VISITOR_ID = {"type": "string", "pattern": PATH_PARAMS["visitor"].pattern}
_JSON_BODIES = (Body.ASSIGN, Body.MERGE)


def _json_body(body: Body) -> dict[str, Any]:
    """The schema of a JSON body other than ``{"name"}``."""
    if body is Body.ASSIGN:
        slug = {**_schema(PATH_PARAMS["slug"]), "description": "An enrolled person's slug."}
        name = {**_schema(NAME), "description": "A new person's display name."}
        return {"oneOf": [_object({"person": slug}), _object({"name": name})]}
    return _object({"into": {**_VISITOR_ID, "description": "The visitor to merge into."}})


def _request_body(body: Body) -> dict[str, Any]:
    if body in _JSON_BODIES:
        return {"required": True, "description": f"JSON of at most {MAX_JSON_BYTES} bytes.",
                "content": {"application/json": {"schema": _json_body(body)}}}

    def binary(limit: int) -> dict[str, Any]:
        return {"type": "string", "format": "binary", "maxLength": limit}

    if body is Body.IMAGE:
        content = {
            "image/jpeg": {"schema": binary(MAX_IMAGE_BYTES)},
            "image/png": {"schema": binary(MAX_IMAGE_BYTES)},
            "image/webp": {"schema": binary(MAX_IMAGE_BYTES)},
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"],
                           "properties": {"file": binary(MAX_IMAGE_BYTES)}}
            },
        }
        description = f"An image of at most {MAX_IMAGE_BYTES} bytes."
    elif body is Body.ARCHIVE:
        content = {"application/zip": {"schema": binary(MAX_ARCHIVE_BYTES)}}
        description = f"A zip made by export, at most {MAX_ARCHIVE_BYTES} bytes."
    else:
        name = {**_schema(NAME), "description": NAME.description}
        content = {"application/json": {"schema": _object({"name": name})}}
        description = f"JSON of at most {MAX_JSON_BYTES} bytes."
    return {"required": True, "description": description, "content": content}


def _response(route: Route, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": _STATUS_TEXT[status]}
    if status >= 400:
        answer["content"] = {"application/json": {"schema": _ref("Error")}}
    elif status != 204:
        if route.answer:
            schema = _ref(route.answer)
        elif route.produces == "application/json":
            schema = {"type": "object"}
        else:
            schema = {"type": "string"}
        answer["content"] = {route.produces: {"schema": schema}}
    return answer


def _schema(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.type}
    for key, value in (("default", param.default), ("minimum", param.minimum),
                       ("maximum", param.maximum), ("pattern", param.pattern),
                       ("minLength", param.min_length), ("maxLength", param.max_length)):
        if value is not None:
            schema[key] = value
    if param.enum:
        schema["enum"] = list(param.enum)
    return schema


def _parameter(param: Param, where: str) -> dict[str, Any]:
    parameter = {"name": param.name, "in": where, "required": where == "path" or param.required,
                 "description": param.description, "schema": _schema(param)}
    if param.example is not None:
        parameter["example"] = param.example
    return parameter


def _operation(route: Route) -> dict[str, Any]:
    parameters = [_parameter(PATH_PARAMS[name], "path")
                  for name in re.findall(r"{(\w+)}", route.path)]
    parameters += [_parameter(query, "query") for query in route.query]
    operation: dict[str, Any] = {
        "operationId": route.handler,
        "summary": route.summary,
        "security": [{"bearer": []}] if route.auth else [],
        "responses": {str(s): _response(route, s) for s in route.responses},
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {**_request_body(route.body), "required": route.body_required}
    return operation


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; ``servers`` carries the ``/api/v1`` base."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Known Faces",
            "version": version,
            "description": "Local face recognition for Home Assistant and MQTT.",
        },
        "servers": [{"url": API_BASE}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _SCHEMAS,
        },
    }
