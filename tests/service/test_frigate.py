"""Following Frigate's events end to end, against a FAKE Frigate (``frigate_fake.py``: an aiohttp
app following Frigate's documented HTTP API and its ``frigate/events`` payload schema, since
Frigate itself cannot run here) serving real shared photos as frames; everything else is real:
the service, its engine and models, SQLite, and a Mosquitto broker carrying the events.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from known_faces.service import frigate as follower_module
from known_faces.sources import frigate_api

from .frigate_fake import FakeFrigate, Fault, event_message
from .helpers import MqttProbe, ServiceRunner, enroll, free_port, wait_until

OBAMA = "people/barack_obama/barack_obama_1.jpg"
OBAMA_2 = "people/barack_obama/barack_obama_2.jpg"
OBAMA_3 = "people/barack_obama/barack_obama_3.jpg"
BIDEN = "people/joe_biden/joe_biden_1.jpg"
BIDEN_2 = "people/joe_biden/joe_biden_2.jpg"
KIT = "people/kit_harington/kit_harington_1.jpg"
ROSE = "people/rose_leslie/rose_leslie_1.jpg"
KIT_WITH_ROSE = "groups/kit_with_rose.jpg"
STRANGER = "people/john_lennon/john_lennon_1.jpg"
NO_FACE = "groups/compreface_017_0.jpg"

Photo = Callable[[str], bytes]


@pytest.fixture
def frigate() -> Iterator[FakeFrigate]:
    """A fake Frigate without auth (its internal port 5000)."""
    fake = FakeFrigate().start()
    yield fake
    fake.stop()


class Setup:
    """A service following one fake Frigate, and a probe on the broker."""

    def __init__(self, runner: ServiceRunner, probe: MqttProbe) -> None:
        self.runner = runner
        self.probe = probe
        self.events_topic = f"{runner.service.settings.frigate.topic_prefix}/events"
        self.answer_topic = runner.service.topics.frigate_event

    def send(self, kind: str, event_id: str, camera: str, **fields: Any) -> None:
        """Publish a ``frigate/events`` message as Frigate would."""
        self.probe.publish(self.events_topic, event_message(kind, event_id, camera, **fields))

    def answers(self, event_id: str, count: int = 1, timeout: float = 60,
                kind: str | None = None) -> list[dict[str, Any]]:
        """The first ``count`` consolidated answers about one event (of one ``type``)."""
        def wanted(m: Any) -> bool:
            if m.topic != self.answer_topic:
                return False
            body = m.json()
            return body["frigate_event_id"] == event_id and kind in (None, body["type"])
        return [m.json() for m in self.probe.wait_for(wanted, timeout, count)]

    def all_answers(self, event_id: str) -> list[dict[str, Any]]:
        """Every answer about one event received so far."""
        return [m.json() for m in list(self.probe.messages) if m.topic == self.answer_topic
                and m.json()["frigate_event_id"] == event_id]

    def metric(self, name: str, **labels: str) -> float:
        """One series from /metrics (0 when absent)."""
        text = self.runner.http("GET", "/metrics").body.decode()
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        pattern = re.compile(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", re.MULTILINE)
        found = pattern.search(text)
        return float(found.group(1)) if found else 0.0


@pytest.fixture
def follow(start_service: Callable[..., ServiceRunner], broker: Any, request: Any
           ) -> Iterator[Callable[..., Setup]]:
    """Start a service following ``url`` (a fake Frigate) under a topic prefix of its own."""
    probes: list[MqttProbe] = []

    def make(url: str, **options: Any) -> Setup:
        name = "fr_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50]
        options.setdefault("frigate_interval_s", 0.05)
        options.setdefault("frigate_topic_prefix", name)
        runner = start_service(frigate_url=url, snapshot_topics=[], **options)
        probe = MqttProbe(broker.port, runner.service.topics.prefix + "/#")
        probes.append(probe)
        return Setup(runner, probe)

    yield make
    for probe in probes:
        probe.close()


def test_an_enrolled_persons_event_is_named_and_written_back(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    setup = follow(frigate.url)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    frigate.add_event("1700000000.1-abc", "front_door", [photo(OBAMA_3)], latest=[photo(OBAMA_2)])
    setup.send("new", "1700000000.1-abc", "front_door")

    first = setup.answers("1700000000.1-abc")[0]
    assert first["type"] == "new"
    assert first["verdict"] == "known"
    assert first["person"] == "barack_obama"
    assert first["name"] == "Barack Obama"
    assert 0 < first["score"] <= 1
    assert first["camera"] == "front_door"
    assert first["label"] == "person"

    bodies = wait_until(lambda: frigate.sub_labels_of("1700000000.1-abc"), 30)
    assert bodies[0]["subLabel"] == "Barack Obama"
    assert 0 < bodies[0]["subLabelScore"] <= 1
    faces = setup.probe.wait_for(
        lambda m: m.topic.endswith("/event/person_detected")
        and m.json().get("frigate_event_id") == "1700000000.1-abc")
    assert faces[0].json()["known"]
    assert faces[0].json()["source"] == "frigate"
    assert setup.probe.wait_for(lambda m: m.topic.endswith("/camera/front_door/state")
                                and m.json()["frigate_event_id"] == "1700000000.1-abc")
    snapshot_paths = [p for k, p in frigate.requests if k == "snapshot"]
    assert snapshot_paths[0] == "/api/events/1700000000.1-abc/snapshot.jpg?crop=0&quality=100"

    setup.send("end", "1700000000.1-abc", "front_door")
    end = setup.answers("1700000000.1-abc", kind="end")[0]
    assert end["verdict"] == "known"
    assert end["person"] == "barack_obama"
    # stop_on_match: the first attempt named him, no second attempt was made.
    assert end["attempts"] == 1
    assert frigate.count("latest") == 1
    assert setup.runner.service.frigate is not None
    wait_until(lambda: setup.runner.service.frigate.remembered == 0, 10)


def test_a_strangers_event_gets_no_sub_label_and_one_unknown_face(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    setup = follow(frigate.url, frigate_attempts=2)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    frigate.add_event("1700000001.2-str", "porch", [photo(STRANGER)], latest=[photo(STRANGER)])
    setup.send("new", "1700000001.2-str", "porch")

    answer = setup.answers("1700000001.2-str")[0]
    assert answer["type"] == "new"
    assert answer["verdict"] == "unknown"
    assert answer["person"] is None
    assert answer["score"] is None
    assert answer["attempts"] == 2
    assert answer["unknown_face"]["face_px"] >= 40
    setup.send("end", "1700000001.2-str", "porch")
    end = setup.answers("1700000001.2-str", kind="end")[0]
    assert end["verdict"] == "unknown"
    assert frigate.sub_labels_of("1700000001.2-str") == []
    assert frigate.count("sub_label") == 0


def test_two_people_in_one_event(follow: Callable[..., Setup], frigate: FakeFrigate,
                                 photo: Photo) -> None:
    setup = follow(frigate.url)
    enroll(setup.runner, "Kit Harington", photo(KIT))
    enroll(setup.runner, "Rose Leslie", photo(ROSE))
    frigate.add_event("1700000002.3-two", "garden", [photo(KIT_WITH_ROSE)],
                      latest=[photo(KIT_WITH_ROSE)])
    setup.send("new", "1700000002.3-two", "garden")
    answer = setup.answers("1700000002.3-two")[0]
    assert answer["verdict"] == "known"
    assert {p["person"] for p in answer["people"]} == {"kit_harington", "rose_leslie"}
    bodies = wait_until(lambda: frigate.sub_labels_of("1700000002.3-two"), 30)
    assert bodies[-1]["subLabel"] == "Kit Harington, Rose Leslie"


def test_a_lookalike_frame_does_not_flip_a_confident_answer(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    """Obama's frame comes first, a frame naming Biden (weaker evidence) after it."""
    setup = follow(frigate.url, frigate_stop_on_match=False, frigate_attempts=3)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    enroll(setup.runner, "Joe Biden", photo(BIDEN))
    frigate.add_event("1700000003.4-look", "door", [photo(BIDEN_2)], latest=[photo(OBAMA_3)])
    setup.send("new", "1700000003.4-look", "door")
    first = setup.answers("1700000003.4-look")[0]
    assert first["person"] == "barack_obama"
    wait_until(lambda: frigate.count("latest") >= 3, 60)
    setup.send("end", "1700000003.4-look", "door")
    end = setup.answers("1700000003.4-look", kind="end")[0]
    assert end["person"] == "barack_obama"
    assert [p["person"] for p in end["people"]] == ["barack_obama"]
    assert end["frames"] == 2  # unchanged pictures are not recognised twice
    assert [a["type"] for a in setup.all_answers("1700000003.4-look")] == ["new", "end"]
    faces = [m.json() for m in setup.probe.messages if m.topic.endswith("person_detected")
             and m.json().get("frigate_event_id") == "1700000003.4-look"]
    assert {f["person"] for f in faces} == {"barack_obama", "joe_biden"}
    assert {b["subLabel"] for b in frigate.sub_labels_of("1700000003.4-look")} == {
        "Barack Obama"}


def test_end_before_any_face(follow: Callable[..., Setup], frigate: FakeFrigate,
                             photo: Photo) -> None:
    setup = follow(frigate.url)
    frigate.faults["latest"] = Fault(delay_s=2)
    frigate.faults["snapshot"] = Fault(delay_s=2)
    frigate.add_event("1700000004.5-end", "door", [photo(OBAMA)], latest=[photo(OBAMA)])
    setup.send("new", "1700000004.5-end", "door")
    wait_until(lambda: frigate.count("latest") >= 1, 10)
    setup.send("end", "1700000004.5-end", "door")
    answers = setup.answers("1700000004.5-end")
    assert answers[0]["type"] == "end"
    assert answers[0]["verdict"] == "no_face"
    assert answers[0]["frames"] == 0
    assert setup.runner.service.frigate is not None
    wait_until(lambda: setup.runner.service.frigate.active == 0, 10)
    assert frigate.count("sub_label") == 0


def test_frigate_down_is_counted_and_other_inputs_go_on(
        follow: Callable[..., Setup], photo: Photo) -> None:
    setup = follow(f"http://127.0.0.1:{free_port()}", frigate_attempts=3)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    setup.send("new", "1700000005.6-down", "door")
    answer = setup.answers("1700000005.6-down")[0]
    assert answer["verdict"] == "no_face"
    assert answer["attempts"] == 3
    assert setup.metric("known_faces_frigate_errors_total", reason="down",
                        request="latest") == 3
    # The service's own snapshot topic is not held up by Frigate's outage.
    prefix = setup.runner.service.topics.prefix
    setup.probe.publish(f"{prefix}/snapshot/hall", photo(OBAMA_2))
    seen = setup.probe.wait_for(lambda m: m.topic.endswith("person_detected")
                                and m.json()["camera"] == "hall")
    assert seen[0].json()["person"] == "barack_obama"


def test_a_slow_or_failing_camera_does_not_hold_up_another(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frigate_api, "TIMEOUT_S", 0.5)
    setup = follow(frigate.url, frigate_attempts=2)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    frigate.add_event("1700000006.7-slow", "slow_cam", [photo(OBAMA_2)], latest=[photo(OBAMA_2)])
    frigate.add_event("1700000006.8-bad", "bad_cam", [photo(OBAMA_2)], latest=[photo(OBAMA_2)])
    frigate.add_event("1700000006.9-ok", "good_cam", [photo(OBAMA_3)], latest=[photo(OBAMA_3)])
    frigate.faults["/api/slow_cam/latest.jpg"] = Fault(delay_s=3)
    frigate.faults["/api/events/1700000006.7-slow/snapshot.jpg"] = Fault(delay_s=3)
    frigate.faults["/api/bad_cam/latest.jpg"] = Fault(status=500)
    frigate.faults["/api/events/1700000006.8-bad/snapshot.jpg"] = Fault(status=500)
    for event_id, camera in (("1700000006.7-slow", "slow_cam"), ("1700000006.8-bad", "bad_cam"),
                             ("1700000006.9-ok", "good_cam")):
        setup.send("new", event_id, camera)
    assert setup.answers("1700000006.9-ok")[0]["person"] == "barack_obama"
    wait_until(lambda: frigate.sub_labels_of("1700000006.9-ok"), 30)
    assert setup.answers("1700000006.8-bad")[0]["verdict"] == "no_face"
    assert setup.answers("1700000006.7-slow")[0]["verdict"] == "no_face"
    assert setup.metric("known_faces_frigate_errors_total", reason="server_error",
                        request="latest") == 2
    assert setup.metric("known_faces_frigate_errors_total", reason="timeout",
                        request="snapshot") == 2


def test_401_without_credentials_and_login_with_them(
        follow: Callable[..., Setup], photo: Photo) -> None:
    fake = FakeFrigate(auth=("admin", "s3cret")).start()
    try:
        refused = follow(fake.url, frigate_attempts=1)
        enroll(refused.runner, "Barack Obama", photo(OBAMA))
        fake.add_event("1700000007.1-auth", "door", [photo(OBAMA_2)], latest=[photo(OBAMA_2)])
        refused.send("new", "1700000007.1-auth", "door")
        assert refused.answers("1700000007.1-auth")[0]["verdict"] == "no_face"
        assert refused.metric("known_faces_frigate_errors_total", reason="unauthorized",
                              request="latest") == 1
        refused.runner.stop()

        setup = follow(fake.url, frigate_user="admin", frigate_password="s3cret")
        enroll(setup.runner, "Barack Obama", photo(OBAMA))
        fake.add_event("1700000007.2-auth", "door", [photo(OBAMA_2)], latest=[photo(OBAMA_2)])
        setup.send("new", "1700000007.2-auth", "door")
        assert setup.answers("1700000007.2-auth")[0]["person"] == "barack_obama"
        assert wait_until(lambda: fake.sub_labels_of("1700000007.2-auth"), 30)
        assert fake.logins == 1
        fake.expire_tokens()  # the JWT's session ended: the next call logs in again
        fake.add_event("1700000007.3-auth", "door", [photo(OBAMA_3)], latest=[photo(OBAMA_3)])
        setup.send("new", "1700000007.3-auth", "door")
        assert wait_until(lambda: fake.sub_labels_of("1700000007.3-auth"), 30)
        assert fake.logins == 2
    finally:
        fake.stop()


def test_a_gone_event_404_and_a_500_on_write_back(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("known_faces.publish.sub_label.BACKOFF_S", 0.2)
    setup = follow(frigate.url)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    # Gone from Frigate: its snapshot and its sub label answer 404; the latest frame works.
    frigate.latest["door"] = [photo(OBAMA_2)]
    setup.send("new", "1700000008.1-gone", "door")
    assert setup.answers("1700000008.1-gone")[0]["person"] == "barack_obama"
    wait_until(lambda: setup.metric("known_faces_frigate_sub_labels_total",
                                    outcome="given_up") == 1, 30)
    assert setup.metric("known_faces_frigate_errors_total", reason="not_found",
                        request="sub_label") == 1
    # A 500 on the write-back is retried until Frigate takes it.
    frigate.faults["sub_label"] = Fault(status=500)
    frigate.add_event("1700000008.2-busy", "yard", [photo(OBAMA_3)], latest=[photo(OBAMA_3)])
    setup.send("new", "1700000008.2-busy", "yard")
    wait_until(lambda: setup.metric("known_faces_frigate_errors_total", reason="server_error",
                                    request="sub_label") >= 2, 30)
    del frigate.faults["sub_label"]
    bodies = wait_until(lambda: frigate.sub_labels_of("1700000008.2-busy"), 30)
    assert bodies[0]["subLabel"] == "Barack Obama"
    assert setup.metric("known_faces_frigate_sub_labels_total", outcome="written") == 1


def test_filters_false_positives_labels_cameras_zones(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    setup = follow(frigate.url, frigate_cameras=["door"], frigate_zones=["porch"],
                   frigate_attempts=1)
    frigate.latest["door"] = [photo(NO_FACE)]
    frigate.latest["yard"] = [photo(NO_FACE)]
    setup.send("new", "1700000009.1-fp", "door", zones=("porch",), false_positive=True)
    setup.send("new", "1700000009.2-car", "door", zones=("porch",), label="car")
    setup.send("new", "1700000009.3-cam", "yard", zones=("porch",))
    setup.send("new", "1700000009.4-zone", "door", zones=("street",))
    setup.probe.publish(setup.events_topic, b"{not json")
    # The zone filter admits an event once it is in the zone.
    setup.send("update", "1700000009.4-zone", "door", zones=("porch",))
    answer = setup.answers("1700000009.4-zone")[0]
    assert answer["zones"] == ["porch"]
    assert answer["verdict"] == "no_face"
    assert setup.metric("known_faces_frigate_events_total", outcome="followed") == 1
    assert setup.metric("known_faces_frigate_events_total", outcome="malformed") == 1
    for other in ("1700000009.1-fp", "1700000009.2-car", "1700000009.3-cam"):
        assert setup.all_answers(other) == []


def test_many_concurrent_events_stay_bounded(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follower_module, "MAX_ACTIVE", 4)
    monkeypatch.setattr(follower_module, "MAX_OPEN", 6)
    setup = follow(frigate.url, frigate_attempts=2)
    frigate.faults["latest"] = Fault(delay_s=0.3)
    cameras = [f"cam{i}" for i in range(6)]
    for camera in cameras:
        frigate.latest[camera] = [photo(NO_FACE)]
    ids = [f"17000000{i:02d}.0-many" for i in range(24)]
    for i, event_id in enumerate(ids):
        frigate.add_event(event_id, cameras[i % 6], [photo(NO_FACE)])
        setup.send("new", event_id, cameras[i % 6])
    follower = setup.runner.service.frigate
    assert follower is not None
    peak = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        peak = max(peak, follower.active)
        assert follower.remembered <= 6
        followed = setup.metric("known_faces_frigate_events_total", outcome="followed")
        dropped = setup.metric("known_faces_frigate_events_total", outcome="dropped")
        if followed + dropped == len(ids) and follower.active == 0:
            break
        time.sleep(0.05)
    assert followed + dropped == len(ids)
    assert dropped >= 1
    assert 1 <= peak <= 4
    for event_id in ids:
        setup.send("end", event_id, "cam0")
    wait_until(lambda: follower.remembered == 0, 10)
    assert json.loads(setup.runner.http("GET", "/health").body)["status"] == "ok"


def test_a_better_frame_updates_the_sub_label_and_camera_thresholds_apply(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    setup = follow(frigate.url, frigate_stop_on_match=False, frigate_attempts=2,
                   cameras=[{"name": "strict", "match_threshold": 0.99}])
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    # Frame scores with this gallery: OBAMA_2 ≈ 0.80, then OBAMA_3 ≈ 0.87.
    frigate.add_event("1700000010.1-up", "door", [photo(OBAMA_3)], latest=[photo(OBAMA_2)])
    setup.send("new", "1700000010.1-up", "door")
    wait_until(lambda: len(frigate.sub_labels_of("1700000010.1-up")) >= 2, 30)
    bodies = frigate.sub_labels_of("1700000010.1-up")
    assert [b["subLabel"] for b in bodies] == ["Barack Obama", "Barack Obama"]
    assert bodies[1]["subLabelScore"] > bodies[0]["subLabelScore"]
    # The same face on a camera that demands 0.99 stays unknown: nothing is written.
    frigate.add_event("1700000010.2-strict", "strict", [photo(OBAMA_3)],
                      latest=[photo(OBAMA_2)])
    setup.send("new", "1700000010.2-strict", "strict")
    answer = setup.answers("1700000010.2-strict")[0]
    assert answer["verdict"] == "unknown"
    assert frigate.sub_labels_of("1700000010.2-strict") == []


def test_the_next_event_of_a_camera_after_an_end_mid_recognition(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    """The ended event's picture still waits in the intake (one worker, kept busy by another
    camera); the next event of that camera waits for its turn instead of being refused."""
    setup = follow(frigate.url, workers=1)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    busy, stop = photo("resolution/obama-1080p.jpg"), threading.Event()

    def other_camera() -> None:
        while not stop.is_set():
            setup.probe.publish(f"{setup.runner.service.topics.prefix}/snapshot/other", busy)
            time.sleep(0.01)

    flood = threading.Thread(target=other_camera)
    flood.start()
    try:
        for n in range(4):
            event_id = f"1700000011.{n}-turn"
            frigate.add_event(event_id, "door", [photo(OBAMA_3)], latest=[photo(OBAMA_2)])
            setup.send("new", event_id, "door")
            assert setup.answers(event_id)[0]["person"] == "barack_obama"
            setup.send("end", event_id, "door")  # its snapshot frame is still waiting
    finally:
        stop.set()
        flood.join()
    for frame in ("latest", "snapshot"):
        assert setup.metric("known_faces_frigate_frames_total", frame=frame,
                            outcome="failed") == 0


def test_an_update_after_faceless_attempts_tries_again(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo) -> None:
    """Frigate sends ``update`` when it has a better snapshot: another round of attempts,
    whose answer is published as a correction."""
    setup = follow(frigate.url, frigate_attempts=1)
    enroll(setup.runner, "Barack Obama", photo(OBAMA))
    frigate.add_event("1700000012.1-again", "door", [photo(NO_FACE)], latest=[photo(NO_FACE)])
    setup.send("new", "1700000012.1-again", "door")
    assert setup.answers("1700000012.1-again")[0]["verdict"] == "no_face"
    frigate.add_event("1700000012.1-again", "door", [photo(OBAMA_3)], latest=[photo(OBAMA_2)])
    setup.send("update", "1700000012.1-again", "door")
    update = setup.answers("1700000012.1-again", kind="update")[0]
    assert update["person"] == "barack_obama"
    assert update["attempts"] == 2
    assert wait_until(lambda: frigate.sub_labels_of("1700000012.1-again"), 30)
    # Once named, further updates fetch nothing more.
    fetched = frigate.count("latest")
    setup.send("update", "1700000012.1-again", "door")
    setup.send("end", "1700000012.1-again", "door")
    assert setup.answers("1700000012.1-again", kind="end")[0]["person"] == "barack_obama"
    assert frigate.count("latest") == fetched


def test_a_retained_event_is_an_old_one(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo, broker: Any) -> None:
    """A retained ``events`` message was sent because the service subscribed, not because
    somebody is there now: it is not followed."""
    frigate.latest["door"] = [photo(NO_FACE)]
    early = MqttProbe(broker.port, "unused/#")
    try:
        early.publish("fr_retained/events", event_message("new", "1700000013.1-old", "door"),
                      retain=True)
        setup = follow(frigate.url, frigate_topic_prefix="fr_retained", frigate_attempts=1)
        setup.send("new", "1700000013.2-now", "door")
        assert setup.answers("1700000013.2-now")[0]["verdict"] == "no_face"
        assert setup.all_answers("1700000013.1-old") == []
        assert setup.metric("known_faces_frigate_events_total", outcome="followed") == 1
    finally:
        early.publish("fr_retained/events", b"", retain=True)
        early.close()
