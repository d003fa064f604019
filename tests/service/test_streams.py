"""Stream cameras in the running service (DESIGN §11): a real RTSP server on loopback, video
files as streams, bad URLs, eight streams under one frame budget.

The RTSP camera is GStreamer's RTSP server (tests/service/rtsp_server.py, Debian packages that
scripts/test installs) serving frames encoded from the real photos; the service reads it with
OpenCV's FFmpeg backend over TCP, as it would a real camera.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import pytest

from known_faces.pipeline.engine import Engine
from known_faces.recognizer import Recognizer
from known_faces.store.gallery import Gallery
from tests import videos

from .helpers import MqttProbe, ServiceRunner, free_port, wait_until

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
OBAMA_1 = "people/barack_obama/barack_obama_1.jpg"
WALK = (videos.Scene(videos.OBAMA, 3),)


def gst_available() -> bool:
    """Whether the system Python has GStreamer's RTSP server."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version("
                            "'GstRtspServer', '1.0'); from gi.repository import GstRtspServer"],
                           capture_output=True, check=False, timeout=30)
    return probe.returncode == 0


class RtspCamera:
    """The RTSP server as a process that can be killed and started again on its port."""

    def __init__(self, frames: list[Path], fps: int = 5) -> None:
        self.port = free_port()
        self.frames = frames
        self.fps = fps
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> RtspCamera:
        """Start serving; returns once it listens."""
        self._proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.port), str(self.fps), *map(str, self.frames)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        assert self._proc.stdout.readline().strip() == "ready"
        return self

    def kill(self) -> None:
        """SIGKILL: the camera drops off the network."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None


@pytest.fixture
def rtsp_camera(tmp_path: Path, faces_dir: Path) -> Iterator[RtspCamera]:
    """An RTSP camera showing Obama walking across, over and over."""
    if not gst_available():
        pytest.skip("GStreamer's RTSP server is not installed (scripts/test installs it)")
    paths = []
    for i, frame in enumerate(videos.frames(WALK, 5, (320, 240))):
        paths.append(tmp_path / f"frame{i:03d}.jpg")
        cv2.imwrite(str(paths[-1]), frame)
    camera = RtspCamera(paths).start()
    yield camera
    camera.kill()


@pytest.fixture
def enrolled_dir(tmp_path: Path, engine: Engine, faces_dir: Path) -> Path:
    """A data dir with Obama enrolled from another photo than the stream's."""
    gallery = Gallery.open(tmp_path / "data")
    Recognizer(engine, gallery).enroll_by_name("Barack Obama",
                                               (faces_dir / OBAMA_1).read_bytes())
    gallery.close()
    return tmp_path / "data"


def stream_state(probe: MqttProbe, runner: ServiceRunner, camera: str,
                 predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    """The first retained stream state of ``camera`` that satisfies ``predicate``."""
    topic = runner.service.topics.camera_stream(camera)
    message = probe.wait_for(lambda m: m.topic == topic and predicate(m.json()), timeout)[0]
    state: dict[str, Any] = message.json()
    return state


def events(probe: MqttProbe, runner: ServiceRunner) -> list[dict[str, Any]]:
    """Every person_detected received so far."""
    topic = runner.service.topics.person_detected
    return [m.json() for m in probe.messages if m.topic == topic]


def metric(runner: ServiceRunner, name: str, camera: str | None = None) -> float:
    """One sample of ``/metrics``."""
    text = runner.http("GET", "/metrics").body.decode()
    labels = f'{{camera="{camera}"}}' if camera else ""
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name}{labels} not in /metrics"
    return float(found.group(1))


def test_rtsp_stream_is_tracked_and_resumes_after_the_camera_restarts(
        rtsp_camera: RtspCamera, enrolled_dir: Path, start_service: Callable[..., ServiceRunner],
        listen: Callable[[ServiceRunner], MqttProbe]) -> None:
    """The RTSP camera is read: stream online, one person_detected for Obama's track (with
    ``track_id`` and ``frames``), not one per frame. The server is killed: offline. Started
    again on its port: the reader reopens it by itself and events come again."""
    runner = start_service(enrolled_dir, cameras=[
        {"name": "door", "stream": rtsp_camera.url, "fps": 2}])
    probe = listen(runner)
    online = stream_state(probe, runner, "door", lambda s: s["state"] == "online", 60)
    assert online["fps"] == 2
    assert online["budget_binding"] is False
    event_topic = runner.service.topics.person_detected
    first = probe.wait_for(lambda m: m.topic == event_topic, 60)[0].json()
    assert first["person"] == "barack_obama"
    assert first["source"] == "stream"
    assert first["track_id"].startswith("door-")
    assert first["frames"] >= 1
    wait_until(lambda: metric(runner, "known_faces_stream_frames_total", "door") >= 10, 60)
    assert [e["track_id"] for e in events(probe, runner)] == [first["track_id"]]

    rtsp_camera.kill()
    offline = stream_state(probe, runner, "door",
                           lambda s: s["state"] == "offline" and s["frames"] > 0, 60)
    assert "stopped sending frames" in offline["error"]
    frames_before = metric(runner, "known_faces_stream_frames_total", "door")
    probe.clear()
    rtsp_camera.start()
    back = stream_state(probe, runner, "door",
                        lambda s: s["state"] == "online" and s["reconnects"] >= 1, 90)
    assert back["frames"] > frames_before
    again = probe.wait_for(lambda m: m.topic == event_topic, 60)[0].json()
    assert again["person"] == "barack_obama"
    assert again["track_id"] != first["track_id"]


def test_watch_prints_the_rtsp_camera_s_events_live(rtsp_camera: RtspCamera,
                                                     enrolled_dir: Path) -> None:
    """``known-faces watch rtsp://…`` prints Obama's track as a JSON line while the stream
    goes on (the command runs until stopped)."""
    command = [sys.executable, "-m", "known_faces.cli", "watch", rtsp_camera.url, "--json",
               "--data-dir", str(enrolled_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        event = json.loads(lines.get(timeout=90))
    finally:
        proc.kill()
        proc.wait(10)
    assert event["person"] == "barack_obama"
    assert event["camera"] == "watch"
    assert event["track_id"].startswith("watch-")


class NotVideo(BaseHTTPRequestHandler):
    """An HTTP server that answers with a web page, not a stream."""

    def do_GET(self) -> None:
        """A small HTML page."""
        body = b"<html><body>camera login</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@pytest.fixture
def web_page() -> Iterator[str]:
    """The URL of a page that is no video."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotVideo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video"
    server.shutdown()


def test_bad_stream_urls_give_one_clear_error_and_the_service_goes_on(
        tmp_path: Path, web_page: str, start_service: Callable[..., ServiceRunner],
        listen: Callable[[ServiceRunner], MqttProbe], photo: Callable[[str], bytes],
        caplog: pytest.LogCaptureFixture) -> None:
    """Refused, missing, not a video (a text file, a web page): each camera is offline with
    its reason, logged once although the reader keeps retrying, the password never shown,
    and the service still recognises snapshots."""
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    cameras = {"refused": f"rtsp://admin:topsecret@127.0.0.1:{free_port()}/cam",
               "missing": str(tmp_path / "missing.mp4"), "notes": str(notes),
               "page": web_page}
    caplog.set_level(logging.WARNING, logger="known_faces")
    runner = start_service(cameras=[{"name": n, "stream": u} for n, u in cameras.items()])
    probe = listen(runner)
    for camera in cameras:
        state = stream_state(probe, runner, camera,
                             lambda s: s["state"] == "offline" and bool(s["error"]), 30)
        assert "cannot open" in state["error"]
    time.sleep(4)  # the readers retry after 1 s, then 2 s
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("sources.streams")]
    for camera in cameras:
        assert len([w for w in warnings if w.startswith(f"stream {camera}:")]) == 1, warnings
    assert "no such file" in next(w for w in warnings if w.startswith("stream missing:"))
    shown = " ".join(warnings) + " ".join(m.payload.decode("utf-8", "replace")
                                          for m in probe.messages)
    assert "topsecret" not in shown
    assert "admin:***@" in shown
    assert runner.http("GET", "/health").json()["status"] == "ok"
    probe.publish(f"{runner.service.topics.prefix}/snapshot/porch", photo(OBAMA_1))
    state = probe.on(runner.service.topics.camera_state("porch"), timeout=30).json()
    assert state["face_count"] == 1


def rss_kb() -> int:
    """Resident memory of this process (the service runs in it)."""
    status = Path("/proc/self/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found
    return int(found.group(1))


def test_eight_streams_share_the_frame_budget_in_bounded_memory(
        tmp_path: Path, enrolled_dir: Path, start_service: Callable[..., ServiceRunner],
        listen: Callable[[ServiceRunner], MqttProbe], caplog: pytest.LogCaptureFixture) -> None:
    """Eight video-file streams asking 2 frames/s each (16) under a budget of 4: each is read
    at 0.5 frames/s, the budget is reported as binding (metrics and stream state), the frames
    taken stay within the budget, pending snapshots stay one per camera at most, and memory
    stays bounded."""
    video = tmp_path / "walk.mp4"
    # At 0.5 frames/s the stranger is seen four times a pass: enough to confirm the track.
    videos.write(video, (*WALK, videos.Scene(None, 1), videos.Scene(videos.STRANGER, 8)),
                 size=(320, 240))
    names = [f"cam{i}" for i in range(8)]
    before = rss_kb()
    started = time.monotonic()
    runner = start_service(enrolled_dir, stream_max_fps=4, cameras=[
        {"name": n, "stream": str(video), "fps": 2} for n in names])
    probe = listen(runner)
    for name in names:
        state = stream_state(probe, runner, name, lambda s: s["state"] == "online", 30)
        assert state["effective_fps"] == 0.5
        assert state["budget_binding"] is True
        assert state["budget_fps"] == 4
    assert metric(runner, "known_faces_stream_budget_binding") == 1
    # At 0.5 frames/s a track outlives three missed frames, not the default 2.5 s.
    assert runner.service.streams.tracked["cam0"].tracker.settings.max_unseen_s == 6
    assert all(metric(runner, "known_faces_stream_fps", n) == 0.5 for n in names)
    peak_pending = 0

    def enough() -> bool:
        nonlocal peak_pending
        peak_pending = max(peak_pending, runner.service.pending_snapshots)
        return sum(metric(runner, "known_faces_stream_frames_total", n) for n in names) >= 40

    wait_until(enough, 120, step=0.2)
    elapsed = time.monotonic() - started
    taken = sum(metric(runner, "known_faces_stream_frames_total", n) for n in names)
    assert taken <= 4 * elapsed + len(names)  # the budget, plus each stream's first frame
    assert peak_pending <= len(names)
    assert rss_kb() - before < 400_000
    assert not [r for r in caplog.records if r.name.endswith("sources.streams")]  # files loop
    processed = [json.loads(m.payload) for m in probe.messages
                 if m.topic.endswith("/state") and "/camera/" in m.topic]
    assert {p["camera"] for p in processed} == set(names)
    wait_until(lambda: any(not e["known"] for e in
                           runner.http("GET", "/events?limit=500").json()["events"]), 60, 0.5)
    runner.stop()
    gallery = Gallery.open(enrolled_dir)
    unknown = [e for e in gallery.recent_events(500) if not e["known"]]
    # The stranger is kept once per track (the visitor hook), not once per frame.
    assert unknown
    assert all(e["track_id"] for e in unknown)
    assert gallery.unknown_sighting_count() == len(unknown)
    gallery.close()

