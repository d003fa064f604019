"""The MQTT contract (DESIGN §5) against a real Mosquitto, the real engine and real photos."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import cv2
import numpy as np

from .helpers import Broker, MqttProbe, ServiceRunner, enroll, wait_until

OBAMA_1 = "people/barack_obama/barack_obama_1.jpg"
OBAMA_2 = "people/barack_obama/barack_obama_2.jpg"
BIDEN_1 = "people/joe_biden/joe_biden_1.jpg"
BIDEN_2 = "people/joe_biden/joe_biden_2.jpg"

EVENT_FIELDS = {
    "event_id", "snapshot_id", "camera", "time", "known", "person", "name", "similarity",
    "threshold", "margin", "second", "best_guess", "box", "face_px", "detection_score",
    "face_count", "source", "model", "latency_ms", "status", "visitor", "visitor_sightings",
    "visitor_sightings_24h", "scores",
}

Start = Callable[..., ServiceRunner]
Listen = Callable[[ServiceRunner], MqttProbe]
Photo = Callable[[str], bytes]


def event_on(probe: MqttProbe, runner: ServiceRunner, camera: str, timeout: float = 15
             ) -> dict:
    """The first person_detected event of ``camera``."""
    topic = runner.service.topics.person_detected
    return probe.wait_for(lambda m: m.topic == topic and m.json()["camera"] == camera,
                          timeout)[0].json()


def test_known_person_event_has_every_design_field(start_service: Start, listen: Listen,
                                                   photo: Photo) -> None:
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe = listen(runner)
    probe.publish(runner.service.snapshot_topics.topic("door"), photo(OBAMA_2))

    event = event_on(probe, runner, "door")
    assert set(event) == EVENT_FIELDS
    assert event["known"] is True
    assert (event["person"], event["name"]) == ("barack_obama", "Barack Obama")
    assert event["similarity"] >= event["threshold"] == 0.55
    assert event["margin"] == 0.08
    assert event["source"] == "mqtt"
    assert event["model"] == runner.service.engine.model_id
    assert set(event["scores"]) == set(runner.service.engine.model_ids)
    assert event["face_count"] == 1
    assert event["face_px"] >= 40
    assert len(event["box"]) == 4
    assert event["detection_score"] > 0.9
    assert 0 < event["latency_ms"] < 5000
    uuid.UUID(event["event_id"])
    uuid.UUID(event["snapshot_id"])
    assert datetime.fromisoformat(event["time"]).utcoffset().total_seconds() == 0


def test_stranger_is_unknown_with_best_guess(start_service: Start, listen: Listen,
                                             photo: Photo) -> None:
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe = listen(runner)
    probe.publish(runner.service.snapshot_topics.topic("gate"), photo(BIDEN_1))

    event = event_on(probe, runner, "gate")
    assert event["known"] is False
    assert event["person"] is None
    assert event["name"] is None
    assert event["similarity"] < event["threshold"]
    assert event["best_guess"]["person"] == "barack_obama"
    assert event["best_guess"]["similarity"] == event["similarity"]
    assert event["second"] is None  # nobody else is enrolled: there is no runner-up


def test_frigate_topic_names_the_camera(start_service: Start, listen: Listen,
                                        photo: Photo) -> None:
    runner = start_service(snapshot_topics=["frigate_test/+/person/snapshot"])
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe = listen(runner)
    probe.publish("frigate_test/front_door/person/snapshot", photo(OBAMA_2))

    event = event_on(probe, runner, "front_door")
    assert event["person"] == "barack_obama"


def test_per_camera_threshold_override(start_service: Start, listen: Listen,
                                       photo: Photo) -> None:
    runner = start_service(cameras=[{"name": "strict", "match_threshold": 0.99}])
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe = listen(runner)
    probe.publish(runner.service.snapshot_topics.topic("strict"), photo(OBAMA_2))
    probe.publish(runner.service.snapshot_topics.topic("lenient"), photo(OBAMA_2))

    strict = event_on(probe, runner, "strict")
    assert (strict["known"], strict["threshold"]) == (False, 0.99)
    assert event_on(probe, runner, "lenient")["known"] is True


def test_retained_gallery_camera_person_and_status(start_service: Start, listen: Listen,
                                                   photo: Photo) -> None:
    runner = start_service()
    topics = runner.service.topics
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    early = listen(runner)
    early.publish(runner.service.snapshot_topics.topic("door"), photo(OBAMA_2))
    wait_until(lambda: runner.service.metrics.processed.get(camera="door"), 15)
    # The gallery is republished by a background refresh after each change (the new person,
    # then their face); wait until the last one went out before subscribing late, or the late
    # probe may get the retained count-0 payload followed by the live count-1 one.
    early.wait_for(lambda m: m.topic == topics.gallery
                   and [p["face_count"] for p in m.json()["people"]] == [1], 15)
    early.on(topics.camera_state("door"), 15)

    late = listen(runner)  # subscribes after the fact: only retained messages arrive
    gallery = late.wait_for(lambda m: m.topic == topics.gallery and bool(m.json()["people"]))[0]
    assert gallery.retain
    assert gallery.json()["people"] == [
        {"person": "barack_obama", "name": "Barack Obama", "face_count": 1}]
    assert gallery.json()["model"] == runner.service.engine.model_id
    assert late.on(topics.status).payload == b"online"

    camera = late.on(topics.camera_state("door")).json()
    assert (camera["camera"], camera["face_count"], camera["unknown"]) == ("door", 1, 0)
    assert camera["people"][0]["person"] == "barack_obama"
    person = late.on(topics.person_state("barack_obama")).json()
    assert (person["camera"], person["name"]) == ("door", "Barack Obama")

    crop = cv2.imdecode(np.frombuffer(late.on(topics.camera_face("door")).payload, np.uint8),
                        cv2.IMREAD_COLOR)
    assert crop.shape == (224, 224, 3)  # the loose crop the gallery stores
    announce = late.on(topics.announce).json()
    assert set(announce) == {"instance_id", "url", "version", "topic_prefix"}
    assert announce["topic_prefix"] == topics.prefix
    assert runner.service.token not in late.on(topics.announce).payload.decode()


def test_gallery_change_republishes_and_forgetting_clears_person_state(
        start_service: Start, listen: Listen, photo: Photo) -> None:
    runner = start_service()
    topics = runner.service.topics
    probe = listen(runner)
    slug = enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe.publish(runner.service.snapshot_topics.topic("door"), photo(OBAMA_2))
    probe.on(topics.person_state(slug))

    assert runner.http("DELETE", f"/people/{slug}").status == 204
    probe.wait_for(lambda m: m.topic == topics.gallery and m.json()["people"] == [])
    cleared = probe.wait_for(lambda m: m.topic == topics.person_state(slug) and not m.payload)
    assert cleared


def test_a_restart_keeps_the_crop_time_of_the_retained_face(
        start_service: Start, listen: Listen, photo: Photo, tmp_path) -> None:
    """Home Assistant's image entity shows ``face_time``: if a restarted service forgot it, the
    next faceless snapshot would change that state and fire automations for an old crop."""
    first = start_service(tmp_path / "data")
    topics = first.service.topics
    probe = listen(first)
    probe.publish(first.service.snapshot_topics.topic("door"), photo(OBAMA_1))
    face_time = probe.on(topics.camera_state("door")).json()["face_time"]
    assert face_time is not None
    first.stop()

    second = start_service(tmp_path / "data")
    wait_until(lambda: second.service.publisher.knows_face_time("door"), 10)
    blank = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))[1].tobytes()
    probe.clear()
    probe.publish(second.service.snapshot_topics.topic("door"), blank)
    state = probe.wait_for(lambda m: m.topic == topics.camera_state("door")
                           and m.json()["face_count"] == 0)[0].json()
    assert state["face_time"] == face_time


def test_forgetting_a_camera_clears_its_retained_topics(
        start_service: Start, listen: Listen, photo: Photo) -> None:
    runner = start_service()
    topics = runner.service.topics
    probe = listen(runner)
    probe.publish(runner.service.snapshot_topics.topic("attic"), photo(OBAMA_1))
    probe.on(topics.camera_face("attic"))
    assert runner.http("DELETE", "/cameras/attic").status == 204
    for topic in (topics.camera_state("attic"), topics.camera_face("attic")):
        probe.wait_for(lambda m, t=topic: m.topic == t and not m.payload)
    late = listen(runner)  # a new subscriber (Home Assistant after a restart) gets nothing
    late.on(topics.status)
    time.sleep(0.3)
    assert not [m for m in late.messages if "/camera/attic/" in m.topic]
    assert runner.http("DELETE", "/cameras/not%20a%20camera").status == 400


def test_offline_status_on_clean_stop(start_service: Start, listen: Listen) -> None:
    runner = start_service()
    probe = listen(runner)
    probe.on(runner.service.topics.status)
    runner.stop()
    probe.wait_for(lambda m: m.topic == runner.service.topics.status and m.payload == b"offline")


def test_cli_enroll_is_recognised_within_a_second(start_service: Start, listen: Listen,
                                                  photo: Photo, faces_dir, tmp_path) -> None:
    data_dir = tmp_path / "shared-gallery"
    runner = start_service(data_dir)
    topics = runner.service.topics
    probe = listen(runner)
    probe.on(topics.gallery)

    subprocess.run([sys.executable, "-m", "known_faces.cli", "enroll", "Joe Biden",
                    str(faces_dir / BIDEN_1), "--data-dir", str(data_dir)],
                   check=True, capture_output=True, timeout=120)
    enrolled_at = time.perf_counter()
    seen = probe.wait_for(lambda m: m.topic == topics.gallery and any(
        p["person"] == "joe_biden" and p["face_count"] == 1 for p in m.json()["people"]),
        timeout=5)[0]
    assert seen.received - enrolled_at < 1.0

    probe.publish(runner.service.snapshot_topics.topic("hall"), photo(BIDEN_2))
    assert event_on(probe, runner, "hall")["person"] == "joe_biden"


def test_retained_snapshots_are_not_replayed_as_new_sightings(
        start_service: Start, listen: Listen, broker: Broker, photo: Photo) -> None:
    """Frigate retains its snapshots: a (re)subscribe must not announce old sightings."""
    old = MqttProbe(broker.port, "unused/#")
    topic = "kf_retained_test/snapshot/old"
    old.publish(topic, photo(OBAMA_2), retain=True)
    try:
        runner = start_service(topic_prefix="kf_retained_test")
        listen(runner).on(runner.service.topics.status)
        time.sleep(1.0)
        assert runner.service.metrics.received.get(camera="old", source="mqtt") == 0
        old.publish(topic, photo(OBAMA_2))
        wait_until(lambda: runner.service.metrics.processed.get(camera="old"), 15)
    finally:
        old.publish(topic, b"", retain=True)
        old.close()


def test_broker_restart_then_next_snapshot_is_processed(
        start_service: Start, listen: Listen, broker: Broker, photo: Photo) -> None:
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    wait_until(lambda: runner.service.mqtt_connected, 10)

    broker.kill()
    wait_until(lambda: not runner.service.mqtt_connected, 10)
    # HTTP keeps serving while the broker is away.
    health = runner.http("GET", "/health")
    assert (health.status, health.json()["mqtt"]) == (200, "disconnected")
    assert runner.http("GET", "/people").status == 200

    broker.start()
    wait_until(lambda: runner.service.mqtt_connected, 40)
    probe = listen(runner)
    # The restarted broker lost every retained message; the service published them again.
    assert probe.on(runner.service.topics.gallery).json()["people"][0]["person"] == "barack_obama"
    probe.publish(runner.service.snapshot_topics.topic("door"), photo(OBAMA_2))
    assert event_on(probe, runner, "door")["person"] == "barack_obama"


def test_flood_keeps_one_pending_snapshot_and_counts_drops(
        start_service: Start, listen: Listen, photo: Photo) -> None:
    runner = start_service()
    service = runner.service
    probe = listen(runner)
    image = photo("resolution/obama-720p.jpg")
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, service.pending_snapshots)
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    for _ in range(100):
        probe.client.publish(service.snapshot_topics.topic("busy"), image, qos=0)
    metrics = service.metrics
    try:
        wait_until(lambda: metrics.received.get(camera="busy", source="mqtt") == 100, 30)
        wait_until(lambda: metrics.processed.get(camera="busy") + metrics.dropped.get(
            camera="busy") == 100 and service.pending_snapshots == 0, 30)
    finally:
        done.set()
        watcher.join()
    assert peak <= 1
    assert metrics.dropped.get(camera="busy") > 50
    assert 1 <= metrics.processed.get(camera="busy") < 50
    text = runner.http("GET", "/metrics").body.decode()
    assert 'known_faces_snapshots_dropped_total{camera="busy"}' in text


def test_corrupt_payloads_are_counted_as_failed_and_service_goes_on(
        start_service: Start, listen: Listen, photo: Photo) -> None:
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe = listen(runner)
    jpeg = photo(OBAMA_2)
    bad = {
        "empty": b"",
        "text": b"this is not an image",
        "truncated": jpeg[: len(jpeg) // 3],
        "jpeg_header_only": jpeg[:200],
        "random": np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
    }
    for camera, payload in bad.items():
        probe.publish(runner.service.snapshot_topics.topic(camera), payload)
    metrics = runner.service.metrics
    for camera in bad:
        wait_until(lambda c=camera: sum(v for k, v in metrics.failed.values.items()
                                        if ("camera", c) in k), 15)
    probe.publish(runner.service.snapshot_topics.topic("door"), jpeg)
    assert event_on(probe, runner, "door")["person"] == "barack_obama"
