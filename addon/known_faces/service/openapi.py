"""The OpenAPI 3 document of the HTTP API, generated from the route table."""

from __future__ import annotations

import re
from typing import Any

from .routes import API_BASE, ROUTES, Body, Route

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "Done, no content",
    400: "Bad input (error code in the body)",
    401: "Missing or wrong bearer token",
    404: "No such person or face",
    409: "Name already taken",
    413: "Body too large",
    422: "Enrollment photo rejected (no_face, several_faces, too_small, blurred, low_quality)",
}

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_JSON_OBJECT = {"type": "object"}


def _request_body(body: Body) -> dict[str, Any]:
    binary = {"type": "string", "format": "binary"}
    if body is Body.IMAGE:
        content = {
            "image/jpeg": {"schema": binary},
            "image/png": {"schema": binary},
            "image/webp": {"schema": binary},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": binary}}
            },
        }
    elif body is Body.ARCHIVE:
        content = {"application/zip": {"schema": binary}}
    else:
        content = {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}},
                }
            }
        }
    return {"required": True, "content": content}


def _response(route: Route, status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": _STATUS_TEXT[status]}
    if status >= 400:
        answer["content"] = {"application/json": {"schema": _ERROR_REF}}
    elif status != 204:
        schema = _JSON_OBJECT if route.produces == "application/json" else {"type": "string"}
        answer["content"] = {route.produces: {"schema": schema}}
    return answer


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    for query in route.query:
        schema: dict[str, Any] = {"type": query.type}
        if query.default is not None:
            schema["default"] = query.default
        if query.enum:
            schema["enum"] = list(query.enum)
        parameters.append(
            {"name": query.name, "in": "query", "description": query.description,
             "required": query.required, "schema": schema}
        )
    operation: dict[str, Any] = {
        "operationId": route.handler,
        "summary": route.summary,
        "security": [{"bearer": []}] if route.auth else [],
        "responses": {str(s): _response(route, s) for s in route.responses},
    }
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = _request_body(route.body)
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
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
    }
