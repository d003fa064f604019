"""Double Take compatibility (``double_take: true``): the topics and payload shapes Double Take
1.13 publishes (its ``api/src/util/mqtt.util.js`` and ``recognize.controller.js``), so the
automations and blueprints written for it keep working. Frigate is the FAKE of
``frigate_fake.py`` (an aiohttp app following Frigate's documented API and ``frigate/events``
payloads; Frigate cannot run here); the service, engine, photos and Mosquitto are real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .frigate_fake import FakeFrigate, event_message
from .helpers import MqttProbe, ServiceRunner, enroll

BASE_KEYS = {"id", "duration", "timestamp", "attempts", "camera", "zones"}
FACE_KEYS = {"name", "confidence", "match", "box", "type", "duration", "detector", "filename",
             "base64"}


@pytest.fixture
def double_take(broker: Any) -> Iterator[MqttProbe]:
    """A client on ``double-take/#``, as Home Assistant's automations would be."""
    probe = MqttProbe(broker.port, "double-take/#")
    yield probe
    probe.close()


def test_matches_cameras_person_count_and_available(
        start_service: Callable[..., ServiceRunner], double_take: MqttProbe, broker: Any,
        photo: Callable[[str], bytes]) -> None:
    frigate = FakeFrigate().start()
    try:
        runner = start_service(frigate_url=frigate.url, frigate_topic_prefix="frigate_dt",
                               frigate_interval_s=0.05, frigate_attempts=1, double_take=True,
                               snapshot_topics=[])
        enroll(runner, "Barack Obama", photo("people/barack_obama/barack_obama_1.jpg"))
        assert double_take.on("double-take/available").payload == b"online"
        late = MqttProbe(broker.port, "double-take/available")  # joins later: retained
        assert late.on("double-take/available").retain
        late.close()

        obama = photo("people/barack_obama/barack_obama_2.jpg")
        frigate.add_event("1700000100.1-dt", "front_door", [obama], latest=[obama])
        double_take.publish("frigate_dt/events", event_message(
            "new", "1700000100.1-dt", "front_door", zones=("porch",)))
        match = double_take.on("double-take/matches/barack-obama", timeout=60).json()
        assert set(match) == BASE_KEYS | {"match"}
        assert match["id"] == "1700000100.1-dt"
        assert match["camera"] == "front_door"
        assert match["zones"] == ["porch"]
        assert set(match["match"]) == FACE_KEYS
        assert match["match"]["name"] == "barack obama"
        assert match["match"]["match"] is True
        assert 0 < match["match"]["confidence"] <= 100
        assert set(match["match"]["box"]) == {"top", "left", "width", "height"}
        assert match["match"]["type"] in ("latest", "snapshot")

        camera = double_take.on("double-take/cameras/front_door").json()
        assert set(camera) == BASE_KEYS | {"matches", "misses", "unknowns", "personCount",
                                           "counts"}
        assert camera["personCount"] == 1
        assert camera["counts"] == {"person": 1, "match": 1, "miss": 0, "unknown": 0}
        assert [m["name"] for m in camera["matches"]] == ["barack obama"]
        count = double_take.on("double-take/cameras/front_door/person")
        assert count.payload == b"1"

        stranger = photo("people/john_lennon/john_lennon_1.jpg")
        frigate.add_event("1700000100.2-dt", "garage", [stranger], latest=[stranger])
        double_take.publish("frigate_dt/events",
                            event_message("new", "1700000100.2-dt", "garage"))
        unknown = double_take.on("double-take/matches/unknown", timeout=60).json()
        assert set(unknown) == BASE_KEYS | {"unknown", "unknowns"}
        assert unknown["unknown"]["name"] == "unknown"
        assert unknown["unknown"]["match"] is False
        assert unknown["unknowns"] == [unknown["unknown"]]
        garage = double_take.on("double-take/cameras/garage").json()
        assert garage["counts"] == {"person": 1, "match": 0, "miss": 0, "unknown": 1}
    finally:
        frigate.stop()
