"""The HTTP API (DESIGN §6) on the real aiohttp server: every route, auth, bad input, archives."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from known_faces.pipeline.decode import MAX_IMAGE_BYTES
from known_faces.service.routes import API_BASE, ROUTES

from .helpers import REPO, MqttProbe, ServiceRunner, enroll, multipart, request

OBAMA_1 = "people/barack_obama/barack_obama_1.jpg"
OBAMA_2 = "people/barack_obama/barack_obama_2.jpg"
BIDEN_1 = "people/joe_biden/joe_biden_1.jpg"
NO_FACE = "groups/compreface_017_0.jpg"
TWO_FACES = "groups/kit_with_rose.jpg"
JSON = {"Content-Type": "application/json"}

Photo = Callable[[str], bytes]


@pytest.fixture
def api(start_service: Callable[..., ServiceRunner]) -> ServiceRunner:
    """A running service with an empty gallery."""
    return start_service()


def name_body(name: object) -> bytes:
    """``{"name": name}`` as JSON bytes."""
    return json.dumps({"name": name}).encode()


def concrete(path: str) -> str:
    """A route path with its placeholders filled."""
    return path.replace("{slug}", "nobody").replace("{face_id}", "1")


def test_health_needs_no_token(api: ServiceRunner) -> None:
    answer = request("GET", api.url("/health"))
    assert answer.status == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["service"] == "known_faces"
    assert body["mqtt"] == "connected"
    assert set(body) == {"status", "service", "version", "instance_id", "model", "mode", "models",
                         "people", "mqtt", "topic_prefix", "gallery_problems"}
    assert (body["mode"], body["models"]) == (api.service.engine.mode,
                                              list(api.service.engine.model_ids))
    assert body["gallery_problems"] == []


@pytest.mark.parametrize("route", [r for r in ROUTES if r.auth], ids=lambda r: r.handler)
@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
def test_every_other_route_refuses_without_the_token(api: ServiceRunner, route, token) -> None:
    answer = api.http(route.method, concrete(route.path), b"x" if route.body else None,
                      token=token)
    assert answer.status == 401
    assert answer.json()["error"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_ingress_proxy_is_trusted(start_service: Callable[..., ServiceRunner]) -> None:
    """Under the Supervisor the ingress proxy (172.30.32.2) is trusted; here 127.0.0.1 plays it."""
    runner = start_service(trusted_peers=frozenset({"127.0.0.1"}))
    assert runner.http("GET", "/people", token=None).status == 200


def test_people_lifecycle(api: ServiceRunner, photo: Photo) -> None:
    created = api.http("POST", "/people", name_body("Barack Obama"), headers=JSON)
    assert created.status == 201
    person = created.json()
    assert (person["person"], person["name"], person["face_count"]) == (
        "barack_obama", "Barack Obama", 0)

    added = api.http("POST", "/people/barack_obama/faces?source=test", photo(OBAMA_1))
    assert added.status == 201
    face = added.json()["face"]
    assert added.json()["person"]["face_count"] == 1
    assert face["source"] == "test"

    body, headers = multipart("file", "obama.jpg", photo(OBAMA_2))
    assert api.http("POST", "/people/barack_obama/faces", body, headers=headers).status == 201

    listed = api.http("GET", "/people").json()["people"]
    assert [(p["person"], p["face_count"]) for p in listed] == [("barack_obama", 2)]
    assert set(listed[0]) >= {"person", "name", "face_count", "created"}
    detail = api.http("GET", "/people/barack_obama").json()
    assert len(detail["faces"]) == 2
    faces = api.http("GET", "/people/barack_obama/faces").json()["faces"]
    assert {"id", "source", "quality", "created"} <= set(faces[0])

    crop = api.http("GET", f"/people/barack_obama/faces/{face['id']}/crop")
    assert crop.status == 200
    assert crop.headers["Content-Type"] == "image/jpeg"
    assert crop.body[:2] == b"\xff\xd8"

    renamed = api.http("PATCH", "/people/barack_obama", name_body("President Obama"),
                       headers=JSON)
    assert renamed.status == 200
    assert (renamed.json()["person"], renamed.json()["name"]) == ("barack_obama",
                                                                   "President Obama")

    assert api.http("DELETE", f"/people/barack_obama/faces/{face['id']}").status == 204
    assert api.http("GET", "/people/barack_obama").json()["face_count"] == 1
    assert api.http("DELETE", "/people/barack_obama").status == 204
    assert api.http("GET", "/people/barack_obama").status == 404
    assert api.http("GET", "/people").json() == {"people": []}


def test_recognize_raw_and_multipart(api: ServiceRunner, photo: Photo) -> None:
    enroll(api, "Barack Obama", photo(OBAMA_1))
    raw = api.http("POST", "/recognize?camera=desk", photo(OBAMA_2))
    assert raw.status == 200
    result = raw.json()
    assert {"snapshot_id", "camera", "face_count", "latency_ms", "faces"} <= set(result)
    assert result["camera"] == "desk"
    assert result["faces"][0]["person"] == "barack_obama"
    assert result["faces"][0]["status"] == "known"
    assert result["faces"][0]["source"] == "http"

    body, headers = multipart("image", "group.jpg", photo(TWO_FACES))
    group = api.http("POST", "/recognize", body, headers=headers).json()
    assert group["face_count"] == 2
    assert group["camera"] == "http"
    assert all(face["known"] is False for face in group["faces"])
    # Not published, so not recorded.
    assert api.http("GET", "/events").json() == {"events": []}


def test_recognize_with_publish_sends_the_mqtt_event(api: ServiceRunner, photo: Photo,
                                                    broker) -> None:
    enroll(api, "Barack Obama", photo(OBAMA_1))
    probe = MqttProbe(broker.port, api.service.topics.person_detected)
    try:
        answer = api.http("POST", "/recognize?camera=api_cam&publish=true", photo(OBAMA_2))
        assert answer.status == 200
        event = probe.on(api.service.topics.person_detected).json()
    finally:
        probe.close()
    assert (event["camera"], event["source"], event["person"]) == ("api_cam", "http",
                                                                   "barack_obama")
    events = api.http("GET", "/events?limit=5").json()["events"]
    assert [e["event_id"] for e in events] == [event["event_id"]]


def test_enrollment_rejections_say_why(api: ServiceRunner, photo: Photo) -> None:
    enroll(api, "Somebody")
    no_face = api.http("POST", "/people/somebody/faces", photo(NO_FACE))
    assert (no_face.status, no_face.json()["error"]) == (422, "no_face")
    several = api.http("POST", "/people/somebody/faces", photo(TWO_FACES))
    assert (several.status, several.json()["error"]) == (422, "several_faces")
    assert api.http("GET", "/people/somebody").json()["face_count"] == 0


def test_export_then_import_merge_and_replace(api: ServiceRunner, photo: Photo,
                                              start_service) -> None:
    enroll(api, "Barack Obama", photo(OBAMA_1))
    exported = api.http("GET", "/export")
    assert exported.status == 200
    assert exported.headers["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(exported.body)).namelist()

    other = start_service()
    enroll(other, "Joe Biden", photo(BIDEN_1))
    merged = other.http("POST", "/import?mode=merge", exported.body,
                        headers={"Content-Type": "application/zip"})
    assert merged.status == 200
    assert merged.json() == {"people": 1, "faces": 1}
    slugs = {p["person"] for p in other.http("GET", "/people").json()["people"]}
    assert slugs == {"barack_obama", "joe_biden"}

    replaced = other.http("POST", "/import?mode=replace", exported.body)
    assert replaced.json() == {"people": 1, "faces": 1}
    slugs = {p["person"] for p in other.http("GET", "/people").json()["people"]}
    assert slugs == {"barack_obama"}
    # The imported person is recognised at once.
    answer = other.http("POST", "/recognize", photo(OBAMA_2)).json()
    assert answer["faces"][0]["person"] == "barack_obama"


def test_metrics_and_openapi(api: ServiceRunner, photo: Photo) -> None:
    api.http("POST", "/recognize?camera=m", photo(OBAMA_2))
    metrics = api.http("GET", "/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain")
    text = metrics.body.decode()
    for family in ("snapshots_received_total", "snapshots_processed_total",
                   "snapshots_dropped_total", "snapshots_failed_total", "faces_total",
                   "stage_seconds", "gallery_people", "gallery_faces"):
        assert f"# TYPE known_faces_{family} " in text
    assert 'known_faces_snapshots_processed_total{camera="m"} 1' in text
    assert 'known_faces_stage_seconds_bucket{stage="detect",le="+Inf"} 1' in text

    document = api.http("GET", "/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": API_BASE}]


def test_openapi_matches_the_served_routes_and_docs(api: ServiceRunner) -> None:
    document = api.http("GET", "/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    served = {(route.method, route.resource.canonical.removeprefix(API_BASE))
              for route in api.service.http_app.router.routes()
              if route.resource is not None
              and route.resource.canonical.startswith(API_BASE + "/")}  # not the web UI
    assert documented == served

    docs = (REPO / "addon" / "DOCS.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(GET|POST|PATCH|DELETE) ([^`?]+)", docs, re.MULTILINE))
    def as_in_docs(path: str) -> str:  # `{slug}` is written `<slug>`, `{face_id}` `<id>`
        return re.sub(r"\{(\w+)\}", lambda m: "<id>" if m[1] == "face_id" else f"<{m[1]}>", path)

    assert table == {(r.method, as_in_docs(r.path)) for r in ROUTES}


MULTIPART = {"Content-Type": "multipart/form-data; boundary=b"}
NO_FILE_FIELD = b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nhi\r\n--b--\r\n'
BAD_REQUESTS = [
    ("POST", "/recognize", b"", {}, 400, "invalid_image"),
    ("POST", "/recognize", b"not an image at all", {}, 400, "invalid_image"),
    ("POST", "/recognize?camera=../etc", b"x", {}, 400, "invalid_camera"),
    ("POST", "/recognize?publish=maybe", b"x", {}, 400, "invalid_parameter"),
    ("POST", "/recognize", b"\0" * (MAX_IMAGE_BYTES + 1), {}, 413, "image_too_large"),
    ("POST", "/recognize", NO_FILE_FIELD, MULTIPART, 400, "invalid_image"),
    ("POST", "/recognize", b"--b\r\ngarbage", MULTIPART, 400, "invalid_multipart"),
    ("POST", "/people", b"{not json", JSON, 400, "invalid_json"),
    ("POST", "/people", b"[1, 2]", JSON, 400, "invalid_name"),
    ("POST", "/people", name_body(""), JSON, 400, "invalid_name"),
    ("POST", "/people", name_body(42), JSON, 400, "invalid_name"),
    ("POST", "/people", name_body("x" * 5000), JSON, 400, "invalid_name"),
    ("POST", "/people", name_body("Taken"), JSON, 409, "duplicate_name"),
    ("POST", "/people", b"\xff\xfe", JSON, 400, "invalid_json"),
    ("GET", "/people/nobody", None, {}, 404, "unknown_person"),
    ("PATCH", "/people/nobody", name_body("A"), JSON, 404, "unknown_person"),
    ("PATCH", "/people/taken", b"{}", JSON, 400, "invalid_name"),
    ("DELETE", "/people/nobody", None, {}, 404, "unknown_person"),
    ("GET", "/people/nobody/faces", None, {}, 404, "unknown_person"),
    ("POST", "/people/nobody/faces", b"x", {}, 404, "unknown_person"),
    ("POST", "/people/taken/faces", b"garbage", {}, 400, "invalid_image"),
    ("DELETE", "/people/taken/faces/999", None, {}, 404, "unknown_face"),
    ("DELETE", "/people/taken/faces/abc", None, {}, 404, "unknown_face"),
    ("GET", "/people/taken/faces/999/crop", None, {}, 404, "unknown_face"),
    ("GET", "/people/taken/faces/-1/crop", None, {}, 404, "unknown_face"),
    ("GET", "/events?limit=abc", None, {}, 400, "invalid_parameter"),
    ("GET", "/events?limit=0", None, {}, 400, "invalid_parameter"),
    ("GET", "/events?limit=100000", None, {}, 400, "invalid_parameter"),
    ("POST", "/import", b"not a zip", {}, 400, "invalid_archive"),
    ("POST", "/import", b"", {}, 400, "invalid_archive"),
    ("POST", "/import?mode=sideways", b"x", {}, 400, "invalid_parameter"),
    ("GET", "/nowhere", None, {}, 404, "not_found"),
    ("PUT", "/people", b"{}", JSON, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "code"), BAD_REQUESTS,
                         ids=[f"{m} {p[:40]} {s}" for m, p, _, _, s, _ in BAD_REQUESTS])
def test_bad_input_gets_a_json_4xx(api: ServiceRunner, method, path, body, headers, status,
                                   code) -> None:
    enroll(api, "Taken")
    answer = api.http(method, path, body, headers=headers)
    assert answer.status == status, answer.body[:300]
    error = answer.json()
    assert set(error) == {"error", "message"}
    if code is not None:
        assert error["error"] == code
    assert [p["person"] for p in api.http("GET", "/people").json()["people"]] == ["taken"]


def test_import_of_a_damaged_zip_changes_nothing(api: ServiceRunner, photo: Photo,
                                                 tmp_path: Path) -> None:
    enroll(api, "Barack Obama", photo(OBAMA_1))
    archive = io.BytesIO(api.http("GET", "/export").body)
    damaged = io.BytesIO()
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) // 2] if item.filename.endswith(".json")
                            else data)
    answer = api.http("POST", "/import?mode=replace", damaged.getvalue())
    assert answer.status == 400
    assert [p["person"] for p in api.http("GET", "/people").json()["people"]] == ["barack_obama"]


def test_disk_full_is_507_and_loses_nothing(api: ServiceRunner, photo: Photo) -> None:
    """When the gallery cannot grow, enrolling answers 507 ``storage_error`` (not a bare 500),
    the person keeps the faces they had, and recognition still answers."""
    slug = enroll(api, "Barack Obama", photo(OBAMA_1))
    db = api.service.gallery._db  # the service's own connection: SQLite's limit is per connection
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    answer = api.http("POST", f"/people/{slug}/faces", photo(OBAMA_2))
    assert answer.status == 507
    assert answer.json()["error"] == "storage_error"
    assert api.http("GET", f"/people/{slug}").json()["face_count"] == 1
    recognised = api.http("POST", "/recognize?camera=door&publish=false", photo(OBAMA_2))
    assert recognised.status == 200
    assert recognised.json()["faces"][0]["person"] == slug


def test_enroll_by_name_creates_the_person_only_with_an_accepted_face(
        api: ServiceRunner, photo: Photo) -> None:
    before = api.http("GET", "/people").json()["people"]
    refused = api.http("POST", "/enroll?name=Barack%20Obama", photo(TWO_FACES))
    assert (refused.status, refused.json()["error"]) == (422, "several_faces")
    assert api.http("GET", "/people").json()["people"] == before

    created = api.http("POST", "/enroll?name=Barack%20Obama&source=door", photo(OBAMA_1))
    assert created.status == 201, created.json()
    assert created.json()["created"] is True
    assert created.json()["person"]["name"] == "Barack Obama"
    assert created.json()["face"]["source"] == "door"
    again = api.http("POST", "/enroll?name=barack%20obama", photo(OBAMA_1))
    assert again.status == 201
    assert again.json()["created"] is False
    assert again.json()["person"] == {**created.json()["person"], "face_count": 2}
    missing = api.http("POST", "/enroll", photo(OBAMA_1))
    assert (missing.status, missing.json()["error"]) == (400, "invalid_name")


def test_a_photo_unlike_the_persons_others_is_refused_unless_forced(
        api: ServiceRunner, photo: Photo) -> None:
    """Joe Biden's photo added to Barack Obama is refused as does_not_match_person and changes
    nothing; with force=true it is added and answered with the warning (both routes)."""
    slug = enroll(api, "Barack Obama", photo(OBAMA_1))
    refused = api.http("POST", f"/people/{slug}/faces", photo(BIDEN_1))
    assert (refused.status, refused.json()["error"]) == (422, "does_not_match_person")
    assert api.http("GET", f"/people/{slug}").json()["face_count"] == 1
    by_name = api.http("POST", "/enroll?name=Barack%20Obama", photo(BIDEN_1))
    assert (by_name.status, by_name.json()["error"]) == (422, "does_not_match_person")
    forced = api.http("POST", f"/people/{slug}/faces?force=true", photo(BIDEN_1))
    assert forced.status == 201, forced.json()
    assert forced.json()["warning"] == "does_not_match_person"
    assert forced.json()["person"]["face_count"] == 2
    genuine = api.http("POST", "/enroll?name=Barack%20Obama&force=true", photo(OBAMA_2))
    assert genuine.status == 201
    assert "warning" not in genuine.json()
