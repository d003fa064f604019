"""``known-faces recognize VIDEO`` and ``watch`` on videos the test encodes from the real photos.

The video (tests/videos.py): Obama walks across, leaves for one second and walks again (one
appearance), Biden, a stranger, then Obama from another photo (a second appearance), with
four empty seconds between people. Only Obama and Biden are enrolled, from other photos.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from known_faces.pipeline.engine import Engine
from known_faces.recognizer import Recognizer
from known_faces.sources.video import VideoSource, redact
from known_faces.store.gallery import Gallery
from known_faces.tracking import track_video
from tests import videos
from tests.engine.test_cli import assert_error_lines, run

ENROLL = {"Barack Obama": "people/barack_obama/barack_obama_1.jpg",
          "Joe Biden": "people/joe_biden/joe_biden_1.jpg"}
APPEARANCES = ["barack_obama", "joe_biden", None, "barack_obama"]


@pytest.fixture(scope="module")
def visits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The test video (MPEG-4) and its frame count."""
    path = tmp_path_factory.mktemp("video") / "visits.mp4"
    return path, videos.write(path, videos.VISITS)


@pytest.fixture
def enrolled_dir(tmp_path: Path, engine: Engine, faces_dir: Path) -> Path:
    """A data dir with Obama and Biden enrolled."""
    gallery = Gallery.open(tmp_path / "data")
    recognizer = Recognizer(engine, gallery)
    for name, relative in ENROLL.items():
        recognizer.enroll_by_name(name, (faces_dir / relative).read_bytes())
    gallery.close()
    return tmp_path / "data"


def test_recognize_video_names_each_appearance_once(visits: tuple[Path, int], enrolled_dir: Path,
                                                    tmp_path: Path) -> None:
    """``--json``: one track per appearance, in order, the right person each time (the
    stranger unknown); ``--annotate`` writes a video OpenCV plays back with every frame."""
    video, count = visits
    out = tmp_path / "annotated.mp4"
    result = run("recognize", video, "--annotate", out, "--json", data_dir=enrolled_dir)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["frames"] == count
    assert [t["person"] for t in answer["tracks"]] == APPEARANCES
    known = [t for t in answer["tracks"] if t["known"]]
    assert all(t["best_similarity"] >= 0.55 for t in known)
    starts = [t["start_s"] for t in answer["tracks"]]
    assert starts == sorted(starts)
    assert all(t["end_s"] > t["start_s"] for t in answer["tracks"])
    assert videos.count_frames(out) == count
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.mp4", "data"]


def test_recognize_video_prints_one_line_per_track(visits: tuple[Path, int],
                                                   enrolled_dir: Path) -> None:
    """Without ``--json``: a header, then one line per track with start, end, name, score."""
    result = run("recognize", visits[0], data_dir=enrolled_dir)
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert f"{visits[1]} frame(s)" in header
    assert [line.split()[3] for line in lines] == ["Barack", "Joe", "unknown", "Barack"]


def test_watch_prints_each_track_once(visits: tuple[Path, int], enrolled_dir: Path) -> None:
    """``watch`` on a video file at 2 frames/s: one JSON event per appearance, with its
    track and frame count."""
    result = run("watch", visits[0], "--fps", "2", "--json", data_dir=enrolled_dir)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["person"] for e in events] == APPEARANCES
    assert len({e["track_id"] for e in events}) == 4
    assert all(e["frames"] >= 1 for e in events)


def test_strangers_join_one_sighting_per_track(visits: tuple[Path, int], recognizer: Recognizer,
                                               faces_dir: Path) -> None:
    """Through the library, with unknown faces kept: the stranger's track leaves one sighting
    (the hook where a visitor is made), not one per frame."""
    for name, relative in ENROLL.items():
        recognizer.enroll_by_name(name, (faces_dir / relative).read_bytes())
    with VideoSource(str(visits[0])) as source:
        found = track_video(recognizer, source, camera="door")
    assert [t.person for t in found.tracks] == APPEARANCES
    stranger = found.tracks[2]
    assert stranger.frames > 5
    assert recognizer.gallery.unknown_sighting_count() == 1


def test_not_a_video_is_one_clear_error(tmp_path: Path, enrolled_dir: Path) -> None:
    """A file that is no video, a missing file, an unreachable stream: one line each, exit 2,
    and a password in the URL is never printed."""
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    assert_error_lines(run("recognize", fake, data_dir=enrolled_dir), "stream_error")
    assert_error_lines(run("recognize", tmp_path / "missing.mp4", data_dir=enrolled_dir),
                       "stream_error")
    unreachable = run("watch", "rtsp://admin:hunter2@127.0.0.1:9/stream", data_dir=enrolled_dir)
    assert_error_lines(unreachable, "stream_error")
    assert "hunter2" not in unreachable.stderr + unreachable.stdout


def test_redact_hides_only_the_password() -> None:
    """The user and host stay readable; URLs without a password are unchanged."""
    assert redact("rtsp://admin:pw@cam.local:554/live") == "rtsp://admin:***@cam.local:554/live"
    assert redact("http://cam.local/mjpg") == "http://cam.local/mjpg"


MJPEG_PARTS = 30


class MjpegCamera(BaseHTTPRequestHandler):
    """An HTTP MJPEG camera (``multipart/x-mixed-replace``, as the service's own live view and
    many IP cameras send it): ``MJPEG_PARTS`` numbered JPEG frames, then it hangs up."""

    def do_GET(self) -> None:
        """The whole stream at once: when each part arrives is the test's clock's business."""
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        for number in range(MJPEG_PARTS):
            image = np.full((120, 160, 3), number * 8, dtype=np.uint8)
            ok, jpeg = cv2.imencode(".jpg", image)
            assert ok
            self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                             + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                             + jpeg.tobytes() + b"\r\n")

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@pytest.fixture
def mjpeg_url() -> Iterator[str]:
    """A real HTTP server on loopback serving ``MjpegCamera``'s stream."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), MjpegCamera)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/live.mjpg"
    server.shutdown()
    server.server_close()


def test_a_live_stream_is_sampled_by_arrival_not_by_its_timestamps(mjpeg_url: str) -> None:
    """FFmpeg stamps MJPEG over HTTP at 25 frames/s whatever the camera sends; sampled by those
    stamps a 2-frame/s camera read at 2 gave one frame in twelve (the service's mirror of its own
    live view never named anyone). A live stream is timed by the clock as frames arrive: here
    a clock that moves 0.1 s per frame, read every 0.3 s, keeps every third frame."""
    ticks = itertools.count()
    source = VideoSource(mjpeg_url, clock=lambda: next(ticks) / 10)
    with source:
        frames = list(source.frames(0.3))
    assert source.live
    assert [f.index for f in frames] == list(range(0, MJPEG_PARTS, 3))
    assert [round(f.position_s, 6) for f in frames] == [
        round(i / 10, 6) for i in range(1, MJPEG_PARTS + 1, 3)]
