"""Strangers as visitors (DESIGN §9) through the real service: real photos sent as MQTT snapshots
to a real Mosquitto, the real engine, the real SQLite store.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from known_faces.store.visitors import DEFAULT_THRESHOLD

from .helpers import Broker, MqttProbe, ServiceRunner

Start = Callable[..., ServiceRunner]
Listen = Callable[[ServiceRunner], MqttProbe]
Photo = Callable[[str], bytes]

#: The grouping precision chosen with bench/visitor_threshold.py (purity first).
PRECISION = 1.0
#: Recall the chosen threshold reached there (1.0); a fixed arrival order may split a person.
MIN_RECALL = 0.9


def snapshot(probe: MqttProbe, runner: ServiceRunner, image: bytes, camera: str,
             faces: int = 1) -> list[dict]:
    """Publish a snapshot and wait for its ``faces`` events."""
    topics = runner.service.topics
    seen = len(probe.messages)
    probe.publish(f"{topics.prefix}/snapshot/{camera}", image)
    found = probe.wait_for(lambda m: m.topic == topics.person_detected
                           and m.json()["camera"] == camera
                           and probe.messages.index(m) >= seen, 30, count=faces)
    return [m.json() for m in found]


def pairwise(truth: list[str], groups: list[str]) -> tuple[float, float]:
    """Pairwise precision and recall of a grouping."""
    pairs = list(itertools.combinations(zip(truth, groups, strict=True), 2))
    together = [t1 == t2 for (t1, g1), (t2, g2) in pairs if g1 == g2]
    same = [g1 == g2 for (t1, g1), (t2, g2) in pairs if t1 == t2]
    return sum(together) / len(together), sum(same) / len(same)


def test_every_shared_photo_as_a_stranger_groups_into_pure_visitors(
        start_service: Start, listen: Listen, photo: Photo, broker: Broker,
        faces_manifest: dict[str, Any]) -> None:
    """Every photo of every shared person arrives as an unknown snapshot (nobody is enrolled):
    the visitors' grouping has the precision chosen and nearly all of its recall, every event
    carries its visitor, and the retained summary counts the visitors."""
    runner = start_service()
    probe = listen(runner)
    truth, groups = [], []
    for identity, files in faces_manifest["people"].items():
        for relative in files:
            events = snapshot(probe, runner, photo(relative), "door")
            assert len(events) == 1, relative
            event = events[0]
            assert (event["status"], event["known"]) == ("unknown", False)
            assert event["visitor"].startswith("v_")
            assert event["visitor_sightings"] >= 1
            truth.append(identity)
            groups.append(event["visitor"])
    precision, recall = pairwise(truth, groups)
    assert precision >= PRECISION, list(zip(truth, groups, strict=True))
    assert recall >= MIN_RECALL, list(zip(truth, groups, strict=True))
    # A returning visitor's count goes up with every sighting.
    counts = {}
    for visitor, event_count in itertools.groupby(sorted(groups)):
        counts[visitor] = len(list(event_count))
    stored = {v.label: v.seen for v in runner.service.recognizer.visitors.listing()}
    assert stored == counts
    topic = runner.service.topics.visitors
    summary = probe.wait_for(lambda m: m.topic == topic and m.json()["pending"] == len(counts),
                             15)[0]
    newest = summary.json()["newest"]
    assert newest[0]["visitor"] == groups[-1]
    assert {"visitor", "first_seen", "last_seen", "sightings", "cameras"} <= set(newest[0])
    late = MqttProbe(broker.port, topic)  # a consumer that arrives later gets it retained
    try:
        assert late.on(topic).retain
        assert late.on(topic).json()["pending"] == len(counts)
    finally:
        late.close()


def test_an_ignored_visitor_is_ignored_and_never_unknown(
        start_service: Start, listen: Listen, photo: Photo,
        faces_manifest: dict[str, Any]) -> None:
    """The postman case: once a visitor is ignored, that person's next photo is published with
    status ``ignored`` (not ``unknown``), and the camera state counts it apart."""
    runner = start_service()
    probe = listen(runner)
    first, second, third = faces_manifest["people"]["kit_harington"]
    visitor = snapshot(probe, runner, photo(first), "door")[0]["visitor"]
    runner.service.recognizer.visitors.set_ignored(visitor, True)
    probe.clear()
    for relative in (second, third):
        event = snapshot(probe, runner, photo(relative), "door")[0]
        assert (event["status"], event["known"], event["visitor"]) == (
            "ignored", False, visitor)
    events = [m.json() for m in probe.messages
              if m.topic == runner.service.topics.person_detected]
    assert [e["status"] for e in events] == ["ignored", "ignored"]
    camera = runner.service.topics.camera_state("door")
    probe.wait_for(lambda m: m.topic == camera and m.json()["ignored"] == 1
                   and m.json()["unknown"] == 0)
    # Someone else is still unknown.
    stranger = faces_manifest["people"]["albert_einstein"][0]
    assert snapshot(probe, runner, photo(stranger), "door")[0]["status"] == "unknown"


def test_keep_unknown_false_stores_nothing_and_publishes_no_visitor(
        start_service: Start, listen: Listen, photo: Photo, tmp_path: Path,
        faces_manifest: dict[str, Any]) -> None:
    runner = start_service(tmp_path / "data", keep_unknown=False)
    probe = listen(runner)
    for relative in faces_manifest["people"]["barack_obama"]:
        event = snapshot(probe, runner, photo(relative), "door")[0]
        assert (event["status"], event["visitor"], event["visitor_sightings"]) == (
            "unknown", None, None)
    runner.stop()
    db = sqlite3.connect(tmp_path / "data" / "gallery.db")
    try:
        assert db.execute("SELECT COUNT(*) FROM visitors").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM sightings").fetchone() == (0,)
    finally:
        db.close()


def test_retention_purges_old_sightings_at_start(
        start_service: Start, listen: Listen, photo: Photo, tmp_path: Path,
        faces_manifest: dict[str, Any]) -> None:
    """Sightings older than ``visitor_retention_days`` (made old here by rewriting their
    time in SQLite) and the visitors left empty are gone once the service has started."""
    data = tmp_path / "data"
    runner = start_service(data)
    probe = listen(runner)
    old, recent = faces_manifest["people"]["john_lennon"][0], faces_manifest["people"][
        "amy_adams"][0]
    old_visitor = snapshot(probe, runner, photo(old), "door")[0]["visitor"]
    recent_visitor = snapshot(probe, runner, photo(recent), "door")[0]["visitor"]
    runner.stop()
    db = sqlite3.connect(data / "gallery.db")
    try:
        long_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat()
        with db:
            db.execute("UPDATE sightings SET time = ? WHERE label = ?", (long_ago, old_visitor))
    finally:
        db.close()
    again = start_service(data, visitor_retention_days=7)
    probe = listen(again)
    summary = probe.wait_for(lambda m: m.topic == again.service.topics.visitors
                             and m.json()["pending"] == 1, 15)[0].json()
    assert [v["visitor"] for v in summary["newest"]] == [recent_visitor]
    assert [v.label for v in again.service.recognizer.visitors.listing()] == [recent_visitor]


def test_the_default_threshold_is_the_measured_one() -> None:
    """config.yaml, the service options and the store agree on the measured default."""
    import yaml

    from known_faces.service.config import Settings

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "addon" / "config.yaml"
                             ).read_text("utf-8"))
    assert config["options"]["visitor_threshold"] == DEFAULT_THRESHOLD
    assert Settings.from_mapping({}).visitor_threshold == DEFAULT_THRESHOLD
    assert json.loads(json.dumps(config["options"]))["keep_unknown"] is True
