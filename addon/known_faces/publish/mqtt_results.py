"""A recognised snapshot as MQTT messages: events first, then the retained states.

What each message holds is decided in ``payloads``; this module decides which messages a
result makes and hands them to the outbox, which bounds and counts them.
"""

from __future__ import annotations

import json
from collections import OrderedDict

from ..pipeline.results import SnapshotResult
from . import payloads
from .outbox import Outbox
from .topics import Topics

MAX_CAMERAS_REMEMBERED = 1024


class ResultPublisher:
    """Publishes results and remembers, per camera, when its retained face crop was taken."""

    def __init__(self, topics: Topics, outbox: Outbox) -> None:
        self.topics = topics
        self._outbox = outbox
        self._face_times: OrderedDict[str, str] = OrderedDict()

    def publish(self, result: SnapshotResult, events: list[payloads.Payload],
                face_jpeg: bytes | None) -> None:
        """Events (QoS 1, in order), then the person, camera and face-crop states (retained)."""
        topics, outbox = self.topics, self._outbox
        for event in events:
            outbox.event(topics.person_detected, json.dumps(event))
        for event in events:
            if event["known"]:
                outbox.state(topics.person_state(event["person"]),
                             json.dumps(payloads.person_state(event)))
        if face_jpeg is not None:
            self._remember_face_time(result.camera, result.time.isoformat())
        state = payloads.camera_state(result, events, self._face_times.get(result.camera))
        outbox.state(topics.camera_state(result.camera), json.dumps(state))
        if face_jpeg is not None:
            outbox.state(topics.camera_face(result.camera), face_jpeg)

    def restore_face_time(self, camera: str, state: bytes) -> None:
        """Learn a camera's crop time from the state this service retained before it
        restarted, so the next state of that camera carries the same ``face_time`` and Home
        Assistant's image entity does not change although the crop did not. Anything newer
        that this run already knows wins; a payload that is not our state is ignored."""
        if camera in self._face_times:
            return
        face_time = payloads.face_time_of(state)
        if face_time is not None:
            self._remember_face_time(camera, face_time)

    def knows_face_time(self, camera: str) -> bool:
        """Whether this run knows when the camera's retained crop was taken."""
        return camera in self._face_times

    def forget_camera(self, camera: str) -> None:
        """Clear a camera's retained state and crop (empty payloads): Home Assistant removes
        its device, and it comes back only if the camera reports again."""
        self._face_times.pop(camera, None)
        self._outbox.state(self.topics.camera_state(camera), b"")
        self._outbox.state(self.topics.camera_face(camera), b"")

    def _remember_face_time(self, camera: str, face_time: str) -> None:
        self._face_times[camera] = face_time
        self._face_times.move_to_end(camera)
        while len(self._face_times) > MAX_CAMERAS_REMEMBERED:
            self._face_times.popitem(last=False)

    def clear_person(self, slug: str) -> None:
        """An empty retained payload: the MQTT way of saying the person is gone."""
        self._outbox.state(self.topics.person_state(slug), b"")
