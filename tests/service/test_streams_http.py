"""The stream cameras over HTTP: the annotated live view (MJPEG) and enrolling the face in view.

The cameras stream video files the test encodes from the real photos (a file is read at its
own pace and starts over at its end, as a camera goes on sending).
"""

from __future__ import annotations

import http.client
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from known_faces.pipeline.annotate import COLOURS
from known_faces.pipeline.results import FaceStatus
from tests import videos

from .helpers import ServiceRunner, free_port, wait_until

SIZE = (320, 240)
DOOR_SIZE = (640, 480)  # faces of about 70-100 px: enough for the enrollment gates


@pytest.fixture(scope="module")
def walk_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Obama walking across, three seconds."""
    path = tmp_path_factory.mktemp("streams") / "walk.mp4"
    videos.write(path, (videos.Scene(videos.OBAMA, 3),), size=DOOR_SIZE)
    return path


@pytest.fixture(scope="module")
def empty_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of an empty scene."""
    path = tmp_path_factory.mktemp("streams") / "empty.mp4"
    videos.write(path, (videos.Scene(None, 2),), size=SIZE)
    return path


@pytest.fixture
def api(start_service: Callable[..., ServiceRunner], walk_video: Path,
        empty_video: Path) -> ServiceRunner:
    """A service with two stream cameras and nobody enrolled."""
    return start_service(cameras=[{"name": "door", "stream": str(walk_video), "fps": 2},
                                  {"name": "hall", "stream": str(empty_video), "fps": 2},
                                  {"name": "porch", "match_threshold": 0.6}])


def events(api: ServiceRunner) -> list[dict[str, Any]]:
    """The service's recent events (newest first)."""
    answer: list[dict[str, Any]] = api.http("GET", "/events?limit=500").json()["events"]
    return answer


def mjpeg_parts(runner: ServiceRunner, camera: str, count: int) -> list[np.ndarray]:
    """The first ``count`` JPEG parts of a camera's live view, decoded."""
    connection = http.client.HTTPConnection("127.0.0.1", runner.service.http_port, timeout=30)
    connection.request("GET", f"/api/v1/cameras/{camera}/live.mjpg",
                       headers={"Authorization": f"Bearer {runner.service.token}"})
    response = connection.getresponse()
    assert response.status == 200
    boundary = re.search(r"boundary=(\S+)", response.getheader("Content-Type", ""))
    assert boundary is not None
    parts: list[np.ndarray] = []
    while len(parts) < count:
        line = response.readline().strip()
        if line != b"--" + boundary.group(1).encode():
            continue
        headers = {}
        while header := response.readline().strip():
            name, _, value = header.decode().partition(":")
            headers[name.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        data = response.read(int(headers["content-length"]))
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None
        parts.append(image)
    connection.close()
    return parts


def drawn_as_known(image: np.ndarray) -> int:
    """Pixels in the colour a known face's box and label are drawn in."""
    colour = np.array(COLOURS[FaceStatus.KNOWN], dtype=np.int16)
    return int((np.abs(image.astype(np.int16) - colour).max(axis=2) < 40).sum())


def test_live_view_is_mjpeg_of_the_stream_with_names_drawn(
        api: ServiceRunner, photo: Callable[[str], bytes]) -> None:
    """Once Obama is enrolled, the door camera's live view shows his track's box and name
    (the known colour) on frames of the stream's size."""
    answer = api.http("POST", "/enroll?name=Barack%20Obama",
                      photo("people/barack_obama/barack_obama_1.jpg"))
    assert answer.status == 201
    wait_until(lambda: any(e["camera"] == "door" and e["known"] for e in events(api)), 60,
               step=0.2)
    parts = mjpeg_parts(api, "door", 6)
    assert all(p.shape == (DOOR_SIZE[1], DOOR_SIZE[0], 3) for p in parts)
    assert max(drawn_as_known(p) for p in parts) > 200
    empty = mjpeg_parts(api, "hall", 2)
    assert max(drawn_as_known(p) for p in empty) < 50
    assert all(p.shape == (SIZE[1], SIZE[0], 3) for p in empty)


@pytest.mark.parametrize("camera", ["porch", "garage", "bad%20name"])
def test_live_view_of_a_camera_without_stream_is_404(api: ServiceRunner, camera: str) -> None:
    """A camera without a stream, an unknown one, an invalid name: 404 ``unknown_camera``."""
    answer = api.http("GET", f"/cameras/{camera}/live.mjpg")
    assert answer.status == 404
    assert answer.json()["error"] == "unknown_camera"


def test_live_view_needs_the_token(api: ServiceRunner) -> None:
    """Like every route but health."""
    assert api.http("GET", "/cameras/door/live.mjpg", token=None).status == 401


def enroll_from(api: ServiceRunner, name: str, camera: str) -> tuple[int, dict[str, object]]:
    """``POST /enroll?name=…&camera=…`` without a body."""
    query = urllib.parse.urlencode({"name": name, "camera": camera})
    answer = api.http("POST", f"/enroll?{query}", b"")
    return answer.status, answer.json()


def test_enroll_the_face_in_view_of_a_stream_camera(api: ServiceRunner) -> None:
    """The door camera's current frame enrolls its one face (the person is created); the
    empty hall has no face (422, nobody created); a camera without a stream is a 404."""
    wait_until(lambda: api.service.streams.current_jpeg("door") is not None
               and api.service.streams.current_jpeg("hall") is not None, 30)
    status, answer = enroll_from(api, "Barack Obama", "door")
    assert status == 201, answer
    assert answer["created"] is True
    person = answer["person"]
    assert isinstance(person, dict)
    assert person["face_count"] == 1
    assert answer["face"]["source"] == "http"  # type: ignore[index]
    status, answer = enroll_from(api, "Nobody", "hall")
    assert (status, answer["error"]) == (422, "no_face")
    assert [p["name"] for p in api.http("GET", "/people").json()["people"]] == ["Barack Obama"]
    for camera in ("porch", "garage"):
        status, answer = enroll_from(api, "Somebody", camera)
        assert (status, answer["error"]) == (404, "unknown_camera")


def test_an_http_mjpeg_stream_is_read(start_service: Callable[..., ServiceRunner],
                                      walk_video: Path, photo: Callable[[str], bytes]) -> None:
    """An HTTP MJPEG camera: here the service's own live view of the door camera, read back as
    the stream of a second camera (requests from 127.0.0.1 trusted, as a camera URL carries no
    bearer token). The mirror goes online and names Obama."""
    port = free_port()
    live = f"http://127.0.0.1:{port}/api/v1/cameras/door/live.mjpg"
    api = start_service(http_port=port, trusted_peers=frozenset({"127.0.0.1"}), cameras=[
        {"name": "door", "stream": str(walk_video), "fps": 2},
        {"name": "mirror", "stream": live, "fps": 2}])
    assert api.http("POST", "/enroll?name=Barack%20Obama",
                    photo("people/barack_obama/barack_obama_1.jpg")).status == 201
    reader = api.service.streams.readers["mirror"]
    wait_until(lambda: reader.status.online and reader.status.frames >= 3, 60, step=0.2)
    wait_until(lambda: any(e["camera"] == "mirror" and e["person"] == "barack_obama"
                           for e in events(api)), 60, step=0.2)
