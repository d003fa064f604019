"""Frigate benchmark: Frigate event → consolidated answer latency, and frames fetched per event.

Run from the repository root after scripts/setup:
    .venv/bin/python bench/frigate.py [--events 120] [--strangers 20] [--cameras 4] [--json]

It starts its own Mosquitto, the fake Frigate of the tests (``tests/service/frigate_fake.py``:
Frigate's documented HTTP API serving real photos; Frigate itself cannot run here) and a real
``known-faces serve`` process following it, enrolls one person, then from ``--cameras`` cameras
at once (one event per camera at a time, as a camera sees one visitor after another):
1. ``--events`` events of the enrolled person: the time from publishing Frigate's ``new``
   message to the ``known_faces/event/frigate`` answer (p50 / p99), the service's own
   ``latency_ms``, and the pictures fetched and recognised per event (``stop_on_match``: one
   attempt, the current frame and the event snapshot);
2. ``--strangers`` events of a stranger: every attempt is spent before the ``unknown`` answer,
   so the latency is about ``(attempts - 1) × interval``; fetched and recognised pictures per
   event (unchanged pictures are fetched but not recognised twice).
Photos come from $KNOWN_FACES_TEST_DATA or ../shared/data/faces.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engine import default_photos  # noqa: E402
from bench.service_latency import percentile  # noqa: E402
from tests.service.frigate_fake import FakeFrigate, event_message  # noqa: E402
from tests.service.helpers import Broker, MqttProbe, ServiceProcess, mosquitto_binary  # noqa: E402

PREFIX = "kf_bench_frigate"
FRIGATE_PREFIX = "frigate_bench"
ENROLL = "people/barack_obama/barack_obama_1.jpg"
KNOWN_LATEST = "people/barack_obama/barack_obama_2.jpg"
KNOWN_SNAPSHOT = "resolution/obama-1080p.jpg"
STRANGER = "people/john_lennon/john_lennon_1.jpg"


def scenario(probe: MqttProbe, frigate: FakeFrigate, *, name: str, count: int, cameras: int,
             latest: bytes, snapshot: bytes) -> dict[str, Any]:
    """``count`` events spread over ``cameras`` threads; latency and pictures per event."""
    answer_topic = f"{PREFIX}/event/frigate"
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    before = {kind: frigate.count(kind) for kind in ("latest", "snapshot")}

    def answer(event_id: str, kind: str | None) -> tuple[float, dict[str, Any]]:
        found = probe.wait_for(lambda m: m.topic == answer_topic and m.json()[
            "frigate_event_id"] == event_id and kind in (None, m.json()["type"]), 120)[0]
        return found.received, found.json()

    def camera(index: int) -> None:
        cam = f"{name}_cam{index}"
        for n in range(index, count, cameras):
            event_id = f"{time.time():.6f}-{name}{n}"
            frigate.add_event(event_id, cam, [snapshot], latest=[latest])
            sent = time.perf_counter()
            probe.publish(f"{FRIGATE_PREFIX}/events", event_message("new", event_id, cam))
            received, first = answer(event_id, None)
            probe.publish(f"{FRIGATE_PREFIX}/events", event_message("end", event_id, cam))
            _, end = answer(event_id, "end")
            with lock:
                results.append({"ms": (received - sent) * 1000, "service_ms": first["latency_ms"],
                                "verdict": first["verdict"], "attempts": end["attempts"],
                                "frames": end["frames"]})

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(cameras)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fetched = sum(frigate.count(kind) - before[kind] for kind in before)
    latencies = [r["ms"] for r in results]
    return {
        "events": len(results),
        "verdicts": sorted({r["verdict"] for r in results}),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "service_p50_ms": statistics.median(r["service_ms"] for r in results),
        "attempts_per_event": statistics.mean(r["attempts"] for r in results),
        "fetched_per_event": fetched / len(results),
        "recognised_per_event": statistics.mean(r["frames"] for r in results),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both scenarios; the report as a dict."""
    photos = Path(args.photos or default_photos())
    binary = mosquitto_binary()
    if binary is None:
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    frigate = FakeFrigate().start()
    with tempfile.TemporaryDirectory(prefix="known-faces-bench-") as tmp:
        broker = Broker(binary, Path(tmp))
        broker.start()
        os.environ.update({"KNOWN_FACES_FRIGATE_URL": frigate.url,
                           "KNOWN_FACES_FRIGATE_TOPIC_PREFIX": FRIGATE_PREFIX,
                           "KNOWN_FACES_FRIGATE_ATTEMPTS": str(args.attempts),
                           "KNOWN_FACES_FRIGATE_INTERVAL_S": str(args.interval)})
        service = ServiceProcess(broker, PREFIX, Path(tmp) / "data")
        probe = MqttProbe(broker.port, f"{PREFIX}/event/frigate")
        try:
            service.call("POST", "/people", json.dumps({"name": "Barack Obama"}).encode())
            service.call("POST", "/people/barack_obama/faces", (photos / ENROLL).read_bytes())
            known = (photos / KNOWN_LATEST).read_bytes(), (photos / KNOWN_SNAPSHOT).read_bytes()
            stranger = (photos / STRANGER).read_bytes()
            scenario(probe, frigate, name="warmup", count=4, cameras=args.cameras,
                     latest=known[0], snapshot=known[1])
            report = {
                "known": scenario(probe, frigate, name="known", count=args.events,
                                  cameras=args.cameras, latest=known[0], snapshot=known[1]),
                "stranger": scenario(probe, frigate, name="stranger", count=args.strangers,
                                     cameras=args.cameras, latest=stranger, snapshot=stranger),
            }
        finally:
            probe.close()
            service.stop()
            broker.kill()
            frigate.stop()
    return {"cpus": os.cpu_count(), "cameras": args.cameras, "attempts": args.attempts,
            "interval_s": args.interval,
            "load_average": [round(x, 2) for x in os.getloadavg()], **report}


def format_table(report: dict[str, Any]) -> str:
    """The report as the README's table."""
    lines = [f"{report['cameras']} cameras at once, attempts {report['attempts']}, interval "
             f"{report['interval_s']} s, {report['cpus']} CPUs, load {report['load_average']}",
             "",
             "| events | n | verdict | event → answer p50 | p99 | service p50 | attempts/event "
             "| fetched/event | recognised/event |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in ("known", "stranger"):
        r = report[name]
        lines.append(
            f"| {name} | {r['events']} | {', '.join(r['verdicts'])} | {r['p50_ms']:.0f} ms "
            f"| {r['p99_ms']:.0f} ms | {r['service_p50_ms']:.0f} ms "
            f"| {r['attempts_per_event']:.2f} | {r['fetched_per_event']:.2f} "
            f"| {r['recognised_per_event']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    """Parse flags, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--strangers", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.2, help="frigate_interval_s")
    parser.add_argument("--photos", type=Path, help="default: $KNOWN_FACES_TEST_DATA")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = run(args)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
