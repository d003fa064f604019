"""Tests of the Home Assistant integration; shared test data lives here."""

from __future__ import annotations

from typing import Any

from .fake_service import INSTANCE_ID, TOPIC_PREFIX

URL = "http://127.0.0.1:8066"
HEALTH: dict[str, Any] = {
    "status": "ok",
    "service": "known_faces",
    "version": "0.1.0",
    "instance_id": INSTANCE_ID,
    "model": "mobilefacenet-192",
    "people": 1,
    "mqtt": "connected",
    "topic_prefix": TOPIC_PREFIX,
}
PEOPLE: list[dict[str, Any]] = [
    {"person": "alice", "name": "Alice", "face_count": 2, "created": "2026-11-20T10:00:00+00:00"}
]
