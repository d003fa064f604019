"""A stream camera's annotated live view on the Cameras page (DESIGN §11, §12): shown when the
camera has a ``stream``, served by ``GET /api/v1/cameras/<camera>/live.mjpg``.

Camera streams are built on another branch: until the camera option and the route exist here,
the test is skipped with "camera streams not on this branch".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from known_faces.pipeline.decode import decode_image
from known_faces.service.config import CAMERA_SCHEMA
from known_faces.service.routes import API_BASE
from tests.service.helpers import ServiceRunner, wait_until

from .conftest import Ui
from .test_people import OBAMA_2


def test_a_stream_camera_shows_its_live_view(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        photo: Callable[[str], bytes], tmp_path: Path) -> None:
    if "stream" not in {str(key) for key in CAMERA_SCHEMA.schema}:
        pytest.skip("camera streams not on this branch")
    frame = decode_image(photo(OBAMA_2))
    video = tmp_path / "drive.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(50):
        writer.write(frame)
    writer.release()
    runner = start_service(cameras=[{"name": "drive", "stream": str(video)}])
    served = {r.resource.canonical for r in runner.service.http_app.router.routes()
              if r.resource is not None}
    if API_BASE + "/cameras/{camera}/live.mjpg" not in served:
        pytest.skip("camera streams not on this branch")
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.page.goto(ui.base + "cameras", wait_until="domcontentloaded")
    live = ui.page.get_by_alt_text("Live view of drive with faces marked")
    wait_until(lambda: live.evaluate("i => i.naturalWidth") > 0, 20, step=0.2)
    ui.screenshot("cameras-live")
    assert ui.errors == [], ui.errors
