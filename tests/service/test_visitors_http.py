"""Visitor review and search over the real HTTP API (DESIGN §9): real photos as MQTT snapshots,
a real Mosquitto, the real engine and SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import MqttProbe, ServiceRunner, enroll
from .test_visitors import snapshot

Start = Callable[..., ServiceRunner]
Listen = Callable[[ServiceRunner], MqttProbe]
Photo = Callable[[str], bytes]
JSON = {"Content-Type": "application/json"}


def post(runner: ServiceRunner, path: str, body: Any = None) -> Any:
    raw = None if body is None else json.dumps(body).encode()
    return runner.http("POST", path, raw, headers=JSON if raw else None)


def test_an_assigned_visitor_is_named_next_time(start_service: Start, listen: Listen,
                                               photo: Photo,
                                               faces_manifest: dict[str, Any]) -> None:
    """Two photos of a stranger make a visitor; assigning it to a new name enrolls its good
    crops, so the third photo is named, and the visitor's history is the person's."""
    runner = start_service()
    probe = listen(runner)
    first, second, third = faces_manifest["people"]["barack_obama"]
    visitors = {snapshot(probe, runner, photo(p), "door")[0]["visitor"] for p in (first, second)}
    assert len(visitors) == 1
    visitor = visitors.pop()
    answer = post(runner, f"/visitors/{visitor}/assign", {"name": "Barack Obama"})
    assert answer.status == 200, answer.body
    assigned = answer.json()
    assert (assigned["person"]["person"], assigned["created"]) == ("barack_obama", True)
    assert len(assigned["faces"]) + len(assigned["refused"]) == 2
    assert assigned["faces"], assigned["refused"]
    assert assigned["sightings_moved"] == 2
    assert runner.http("GET", f"/visitors/{visitor}").status == 404
    event = snapshot(probe, runner, photo(third), "door")[0]
    assert (event["known"], event["person"], event["status"], event["visitor"]) == (
        True, "barack_obama", "known", None)
    # The history moved: a search finds the person and their earlier sightings.
    found = runner.http("POST", "/search", photo(third)).json()["faces"][0]
    assert [p["person"] for p in found["people"]] == ["barack_obama"]
    assert {s["person"] for s in found["sightings"]} == {"barack_obama"}
    assert {s["seen_as"] for s in found["sightings"]} == {visitor}


def test_assigning_to_a_taken_name_asks_for_the_slug(start_service: Start, listen: Listen,
                                                    photo: Photo,
                                                    faces_manifest: dict[str, Any]) -> None:
    runner = start_service()
    probe = listen(runner)
    first, second = faces_manifest["people"]["joe_biden"]
    slug = enroll(runner, "Joe Biden")
    visitor = snapshot(probe, runner, photo(first), "door")[0]["visitor"]
    taken = post(runner, f"/visitors/{visitor}/assign", {"name": "joe biden"})
    assert taken.status == 409
    assert taken.json()["error"] == "duplicate_name"
    assert f"assign it to the person '{slug}'" in taken.json()["message"]
    assert runner.http("GET", f"/visitors/{visitor}").status == 200  # nothing changed
    assigned = post(runner, f"/visitors/{visitor}/assign", {"person": slug})
    assert assigned.status == 200, assigned.body
    assert assigned.json()["created"] is False
    assert runner.http("GET", f"/people/{slug}").json()["face_count"] == len(
        assigned.json()["faces"])
    assert snapshot(probe, runner, photo(second), "door")[0]["person"] == slug


def test_ignore_unignore_merge_and_forget(start_service: Start, listen: Listen, photo: Photo,
                                         faces_manifest: dict[str, Any],
                                         tmp_path: Path) -> None:
    runner = start_service(tmp_path / "data")
    probe = listen(runner)
    people = faces_manifest["people"]
    postman = snapshot(probe, runner, photo(people["rose_leslie"][0]), "door")[0]["visitor"]
    other = snapshot(probe, runner, photo(people["eric_clapton"][0]), "garden")[0]["visitor"]
    assert postman != other

    ignored = runner.http("POST", f"/visitors/{postman}/ignore")
    assert ignored.status == 200
    assert ignored.json()["status"] == "ignored"
    listed = runner.http("GET", "/visitors?status=ignored").json()["visitors"]
    assert [v["visitor"] for v in listed] == [postman]
    assert [v["visitor"] for v in runner.http("GET", "/visitors?status=pending").json()[
        "visitors"]] == [other]
    event = snapshot(probe, runner, photo(people["rose_leslie"][1]), "door")[0]
    assert (event["status"], event["visitor"]) == ("ignored", postman)
    assert runner.http("DELETE", f"/visitors/{postman}/ignore").json()["status"] == "pending"
    event = snapshot(probe, runner, photo(people["rose_leslie"][1]), "door")[0]
    assert event["status"] == "unknown"

    detail = runner.http("GET", f"/visitors/{postman}").json()
    kept = detail["kept_sightings"]
    assert detail["sightings"] == len(kept) == 3
    assert [s["time"] for s in kept] == sorted((s["time"] for s in kept), reverse=True)
    crop = runner.http("GET", kept[0]["crop_url"].removeprefix("/api/v1"))
    assert (crop.status, crop.body[:2]) == (200, b"\xff\xd8")

    merged = post(runner, f"/visitors/{other}/merge", {"into": postman})
    assert merged.status == 200, merged.body
    assert merged.json()["sightings"] == detail["sightings"] + 1
    assert set(merged.json()["cameras"]) == {"door", "garden"}
    assert runner.http("GET", f"/visitors/{other}").status == 404

    assert runner.http("DELETE", f"/visitors/{postman}").status == 204
    assert runner.http("GET", f"/visitors/{postman}").status == 404
    assert runner.http("GET", "/visitors").json()["visitors"] == []
    runner.stop()
    db = sqlite3.connect(tmp_path / "data" / "gallery.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM sightings").fetchone() == (0,)
    finally:
        db.close()


def test_visitors_are_listed_in_pages(start_service: Start, listen: Listen, photo: Photo,
                                     faces_manifest: dict[str, Any]) -> None:
    """Four strangers are four visitors; pages of three give them all once, last seen first,
    with the total and where the next page starts; bad paging parameters are 400."""
    runner = start_service()
    probe = listen(runner)
    strangers = ["amy_adams", "joe_biden", "kit_harington", "rose_leslie"]
    seen = [snapshot(probe, runner, photo(faces_manifest["people"][p][0]), "door")[0]["visitor"]
            for p in strangers]
    assert len(set(seen)) == 4
    first = runner.http("GET", "/visitors?limit=3").json()
    assert (len(first["visitors"]), first["total"], first["next_offset"]) == (3, 4, 3)
    rest = runner.http("GET", f"/visitors?limit=3&offset={first['next_offset']}").json()
    assert (len(rest["visitors"]), rest["total"], rest["next_offset"]) == (1, 4, None)
    assert [v["visitor"] for v in first["visitors"] + rest["visitors"]] == seen[::-1]
    assert runner.http("GET", "/visitors?status=ignored&limit=3").json() == {
        "visitors": [], "total": 0, "next_offset": None}
    for query in ("limit=0", "limit=501", "limit=x", "offset=-1", "offset=1.5"):
        bad = runner.http("GET", f"/visitors?{query}")
        assert (bad.status, bad.json()["error"]) == (400, "invalid_parameter"), query


def test_search_finds_earlier_sightings_newest_first(start_service: Start, listen: Listen,
                                                    photo: Photo,
                                                    faces_manifest: dict[str, Any]) -> None:
    """Five photos of one person were seen as a stranger; the sixth finds them."""
    runner = start_service()
    probe = listen(runner)
    *earlier, probe_photo = faces_manifest["people"]["person_a"]
    seen = [snapshot(probe, runner, photo(p), f"cam{i}")[0] for i, p in enumerate(earlier)]
    stranger = snapshot(probe, runner, photo(faces_manifest["people"]["steve_carell"][0]),
                        "door")[0]["visitor"]
    answer = runner.http("POST", "/search", photo(probe_photo))
    assert answer.status == 200, answer.body
    face = answer.json()["faces"][0]
    assert face["people"] == []
    found = {v["visitor"] for v in face["visitors"]}
    assert found >= {e["visitor"] for e in seen}
    assert stranger not in found
    sightings = face["sightings"]
    assert len(sightings) >= 3
    assert [s["time"] for s in sightings] == sorted((s["time"] for s in sightings),
                                                    reverse=True)
    assert all(s["score"] >= runner.service.settings.visitor_threshold for s in sightings)
    assert {s["camera"] for s in sightings} <= {f"cam{i}" for i in range(len(earlier))}
    crop = runner.http("GET", sightings[0]["crop_url"].removeprefix("/api/v1"))
    assert crop.body[:2] == b"\xff\xd8"
    # A search records nothing.
    assert runner.service.recognizer.visitors.get(seen[0]["visitor"]).seen == sum(
        e["visitor"] == seen[0]["visitor"] for e in seen)


BAD = [
    ("GET", "/visitors?status=maybe", None, 400, "invalid_parameter"),
    ("GET", "/visitors/v_9999", None, 404, "unknown_visitor"),
    ("GET", "/visitors/nobody", None, 404, "unknown_visitor"),
    ("GET", "/visitors/v_" + "9" * 30, None, 404, "unknown_visitor"),
    ("GET", "/visitors/v_9999/crop", None, 404, "unknown_visitor"),
    ("GET", "/visitors/{v}/crop?sighting=abc", None, 400, "invalid_parameter"),
    ("GET", "/visitors/{v}/crop?sighting=0", None, 400, "invalid_parameter"),
    ("GET", "/visitors/{v}/crop?sighting=999999", None, 404, "unknown_visitor"),
    ("POST", "/visitors/v_9999/ignore", None, 404, "unknown_visitor"),
    ("DELETE", "/visitors/v_9999/ignore", None, 404, "unknown_visitor"),
    ("DELETE", "/visitors/v_9999", None, 404, "unknown_visitor"),
    ("POST", "/visitors/v_9999/assign", b'{"name": "Somebody"}', 404, "unknown_visitor"),
    ("POST", "/visitors/{v}/assign", b"{not json", 400, "invalid_json"),
    ("POST", "/visitors/{v}/assign", b"[1]", 400, "invalid_body"),
    ("POST", "/visitors/{v}/assign", b"{}", 400, "invalid_body"),
    ("POST", "/visitors/{v}/assign", b'{"person": "a", "name": "B"}', 400, "invalid_body"),
    ("POST", "/visitors/{v}/assign", b'{"person": 5}', 400, "invalid_body"),
    ("POST", "/visitors/{v}/assign", b'{"name": ""}', 400, "invalid_name"),
    ("POST", "/visitors/{v}/assign", b'{"name": "a/b"}', 400, "invalid_name"),
    ("POST", "/visitors/{v}/assign", b'{"person": "nobody"}', 404, "unknown_person"),
    ("POST", "/visitors/{v}/assign", b"\xff\xfe", 400, "invalid_json"),
    ("POST", "/visitors/{v}/assign", b'{"name": "' + b"x" * 20000 + b'"}', 413,
     "request_too_large"),
    ("POST", "/visitors/{v}/merge", b'{"into": 5}', 400, "invalid_body"),
    ("POST", "/visitors/{v}/merge", b'{}', 400, "invalid_body"),
    ("POST", "/visitors/{v}/merge", b'{"into": "v_9999"}', 404, "unknown_visitor"),
    ("POST", "/visitors/{v}/merge", b'{"into": "{v}"}', 400, "same_visitor"),
    ("POST", "/search", b"", 400, "invalid_image"),
    ("POST", "/search?threshold=2", b"x", 400, "invalid_parameter"),
    ("POST", "/search?threshold=nan", b"x", 400, "invalid_parameter"),
    ("POST", "/search?threshold=-0.1", b"x", 400, "invalid_parameter"),
]


@pytest.fixture
def one_visitor(start_service: Start, listen: Listen, photo: Photo,
                faces_manifest: dict[str, Any]) -> tuple[ServiceRunner, str]:
    runner = start_service()
    probe = listen(runner)
    image = photo(faces_manifest["people"]["albert_einstein"][0])
    return runner, snapshot(probe, runner, image, "door")[0]["visitor"]


def test_bad_ids_bodies_and_unknown_visitors_are_4xx_and_change_nothing(
        one_visitor: tuple[ServiceRunner, str]) -> None:
    runner, visitor = one_visitor
    before = runner.http("GET", f"/visitors/{visitor}").json()
    for method, path, body, status, code in BAD:
        raw = None if body is None else body.replace(b"{v}", visitor.encode())
        answer = runner.http(method, path.replace("{v}", visitor), raw, headers=JSON)
        assert (answer.status, answer.json()["error"]) == (status, code), (method, path, body)
    assert runner.http("GET", f"/visitors/{visitor}").json() == before
    assert runner.http("GET", "/people").json()["people"] == []
    assert runner.http("GET", f"/visitors/{visitor}", token="wrong").status == 401
