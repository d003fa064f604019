"""Stream benchmark: frames per second per core at 720p and 1080p, frame → event latency of a
track's first confirmation, and the service's memory with 8 streams.

Run from the repository root after scripts/setup:
    .venv/bin/python bench/streams.py [--frames 40] [--duration 30] [--json]

1. In-process, one ONNX Runtime thread: a video of the 720p (then 1080p) Obama photo, shifted a
   little each frame, is read with OpenCV's FFmpeg backend and every frame goes the stream
   path (JPEG for the intake, recognition, tracker). Frames/s = frames / CPU seconds of the
   process (so per core), and the wall-clock rate beside it.
2. A real ``known-faces serve`` process with one stream camera (a 720p video of Obama walking
   in and out, at 2 frames/s) and a real Mosquitto: for each track's ``person_detected``, the
   time from the confirming frame's receipt to the event's arrival at a subscriber, and from
   the track's first frame to it.
3. The same service with 8 such streams (2 frames/s each, budget 8): peak and settled RSS of
   the service process, against the same service without streams.
Photos come from $KNOWN_FACES_TEST_DATA or ../shared/data/faces.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine import default_photos  # noqa: E402
from known_faces.pipeline.engine import Engine  # noqa: E402
from known_faces.recognizer import Recognizer  # noqa: E402
from known_faces.sources.video import VideoSource  # noqa: E402
from known_faces.store.gallery import Gallery  # noqa: E402
from known_faces.tracking import TrackedCamera, frame_jpeg  # noqa: E402
from tests import videos  # noqa: E402
from tests.service.helpers import Broker, MqttProbe, ServiceProcess, mosquitto_binary  # noqa: E402

PREFIX = "kf_bench_streams"
ENROLL = "people/barack_obama/barack_obama_1.jpg"
RESOLUTIONS = {"720p": "resolution/obama-720p.jpg", "1080p": "resolution/obama-1080p.jpg"}
# Obama walks in for 3 s, the scene stays empty for 4 s (longer than a track's timeout).
VISIT = (videos.Scene(videos.OBAMA, 3), videos.Scene(None, 4))


def still_video(photo: Path, target: Path, frames: int, fps: float = 10) -> None:
    """``frames`` frames of one photo, shifted two pixels a frame (the encoder cannot skip)."""
    image = cv2.imread(str(photo))
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    for i in range(frames):
        writer.write(np.roll(image, 2 * i, axis=1))
    writer.release()


def per_core(recognizer: Recognizer, video: Path) -> dict[str, float]:
    """Read and recognise every frame through a tracker, one engine thread."""
    tracked = TrackedCamera("bench")
    frames = 0
    cpu, wall = time.process_time(), time.perf_counter()
    with VideoSource(str(video)) as source:
        for frame in source.frames():
            result = recognizer.recognize(frame_jpeg(frame.image), camera="bench",
                                          source="stream", keep_unknown=False)
            tracked.add(result, frame.position_s)
            frames += 1
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"frames": frames, "per_core_fps": frames / cpu, "wall_fps": frames / wall}


def cameras_env(video: Path, count: int, fps: float, budget: float) -> dict[str, str]:
    """The service's environment for ``count`` stream cameras on ``video``."""
    cameras = [{"name": f"cam{i}", "stream": str(video), "fps": fps} for i in range(count)]
    return {"KNOWN_FACES_CAMERAS": json.dumps(cameras),
            "KNOWN_FACES_STREAM_MAX_FPS": str(budget)}


def latency_run(broker: Broker, data: Path, video: Path, duration: float) -> dict[str, Any]:
    """Events of one stream camera: confirming frame → event at a subscriber."""
    probe = MqttProbe(broker.port, f"{PREFIX}/event/person_detected")
    offset = time.time() - time.perf_counter()  # the probe stamps arrivals with perf_counter
    service = ServiceProcess(broker, PREFIX, data, env=cameras_env(video, 1, 2, 8))
    try:
        time.sleep(duration)
    finally:
        service.stop()
        probe.close()
    delays, since_first = [], []
    for message in probe.messages:
        event = json.loads(message.payload)
        made = datetime.fromisoformat(event["time"]).timestamp()
        frame = made - event["latency_ms"] / 1000
        delays.append((message.received + offset - frame) * 1000)
        since_first.append(delays[-1] + (event["frames"] - 1) / 2 * 1000)
    known = sum(1 for m in probe.messages if json.loads(m.payload)["known"])
    return {"tracks": len(delays), "known": known,
            "p50_ms": statistics.median(delays) if delays else float("nan"),
            "max_ms": max(delays, default=float("nan")),
            "first_frame_p50_ms": statistics.median(since_first) if since_first
            else float("nan")}


def rss_run(broker: Broker, data: Path, env: dict[str, str], duration: float) -> dict[str, float]:
    """Peak and final RSS of a service process over ``duration`` seconds."""
    service = ServiceProcess(broker, PREFIX, data, env=env)
    peak = 0
    try:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            peak = max(peak, service.status_kb("VmRSS"))
            time.sleep(0.25)
        final = service.status_kb("VmRSS")
        frames = sum(float(line.rsplit(" ", 1)[1]) for line in
                     service.call("GET", "/metrics").splitlines()
                     if line.startswith("known_faces_stream_frames_total{"))
    finally:
        service.stop()
    return {"peak_rss_mb": peak / 1024, "final_rss_mb": final / 1024,
            "frames_per_s": frames / duration}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement; the report as a dict."""
    photos = Path(args.photos or default_photos())
    binary = mosquitto_binary()
    if binary is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    engine = Engine.load(threads=1)
    report: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="known-faces-bench-streams-") as tmp_dir:
        tmp = Path(tmp_dir)
        gallery = Gallery.open(tmp / "data")
        recognizer = Recognizer(engine, gallery, keep_unknown=False)
        recognizer.enroll_by_name("Barack Obama", (photos / ENROLL).read_bytes())
        for label, relative in RESOLUTIONS.items():
            video = tmp / f"{label}.mp4"
            still_video(photos / relative, video, args.frames)
            per_core(recognizer, video)  # warm-up: sessions, allocator
            report[label] = per_core(recognizer, video)
        gallery.close()
        walk = tmp / "walk.mp4"
        videos.write(walk, VISIT, fps=10, size=(1280, 720))
        broker = Broker(binary, tmp)
        broker.start()
        try:
            report["latency"] = latency_run(broker, tmp / "data", walk, args.duration)
            report["rss_idle"] = rss_run(broker, tmp / "data", {}, args.duration / 3)
            report["rss_8"] = rss_run(broker, tmp / "data", cameras_env(walk, 8, 2, 8),
                                      args.duration)
        finally:
            broker.kill()
    report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return report


def format_table(report: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lat, idle, eight = report["latency"], report["rss_idle"], report["rss_8"]

    def row(label: str, value: str) -> str:
        return f"| {label} | {value} |"

    return "\n".join([
        f"Known Faces stream benchmark: {report['cpus']} CPUs, one ONNX Runtime thread; load "
        f"average at the end {' / '.join(map(str, report['load_average']))}",
        "",
        "| measurement | result |",
        "|---|---|",
        *(row(f"{label} stream frames/s per core (wall-clock rate)",
              f"{report[label]['per_core_fps']:.1f} ({report[label]['wall_fps']:.1f}) over "
              f"{report[label]['frames']} frames") for label in RESOLUTIONS),
        row(f"frame → event, track's first confirmation, 720p at 2 fps ({lat['tracks']} "
            f"tracks, {lat['known']} named): p50 / max",
            f"{lat['p50_ms']:.0f} / {lat['max_ms']:.0f} ms"),
        row("track's first frame → event, p50", f"{lat['first_frame_p50_ms']:.0f} ms"),
        row("service RSS without streams (peak)", f"{idle['peak_rss_mb']:.0f} MB"),
        row(f"service RSS with 8 streams at 720p (peak / settled; {eight['frames_per_s']:.1f} "
            "frames/s taken)", f"{eight['peak_rss_mb']:.0f} / {eight['final_rss_mb']:.0f} MB"),
    ])


def main() -> int:
    """Parse flags, run, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--frames", type=int, default=40, help="frames per resolution")
    parser.add_argument("--duration", type=float, default=30.0,
                        help="seconds of the latency and 8-stream phases")
    parser.add_argument("--photos", type=Path, help="default: $KNOWN_FACES_TEST_DATA")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
