"""Push coordinator: turns the service's MQTT topics into `KnownFacesState`.

There is no polling. The coordinator subscribes to the service's topics with wildcards once, at
entry setup (so no retained message is missed while entities are still being added), keeps the
latest state, announces new people and cameras to the platforms through dispatcher signals and
removes a person's or a camera's device (and so their entities) when the service clears them.

A message about one person or camera wakes only that subject's entities (`signal_updated`); the
coordinator's own listeners, that is every entity, hear only about availability: the service's
status and Home Assistant's MQTT connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .const import (
    CONF_TOPIC_PREFIX,
    DEFAULT_TOPIC_PREFIX,
    DOMAIN,
    EVENT_PERSON_DETECTED,
    STATUS_OFFLINE,
    STATUS_ONLINE,
)
from .models import CameraState, KnownFacesState, Person, Sighting, Visitors

if TYPE_CHECKING:
    from datetime import datetime

    from .api import KnownFacesClient
    from .data import KnownFacesConfigEntry

_LOGGER = logging.getLogger(__name__)

SUBJECT_PERSON = "person"
SUBJECT_CAMERA = "camera"
# The crop of a camera is a subject of its own: a new face must not rewrite the camera's sensors.
SUBJECT_FACE = "face"
# The visitors summary wakes only the visitor entities of the service's device.
SUBJECT_VISITORS = "visitors"
VISITORS_SUMMARY = "summary"


def signal_new_people(entry_id: str) -> str:
    """Dispatcher signal carrying the slugs of people that need entities."""
    return f"{DOMAIN}_{entry_id}_new_people"


def signal_new_camera(entry_id: str) -> str:
    """Dispatcher signal carrying the name of a camera that needs entities."""
    return f"{DOMAIN}_{entry_id}_new_camera"


def signal_person_detected(entry_id: str) -> str:
    """Dispatcher signal carrying each `person_detected` payload, for the event entities."""
    return f"{DOMAIN}_{entry_id}_person_detected"


def signal_updated(entry_id: str, subject: str) -> str:
    """Dispatcher signal telling one subject's entities (`person:alice`) to write their state."""
    return f"{DOMAIN}_{entry_id}_updated_{subject}"


def subject(kind: str, name: str) -> str:
    """A person's (`person:<slug>`), camera's or crop's key; also the stem of unique ids."""
    return f"{kind}:{name}"


def person_identifier(instance_id: str, slug: str) -> tuple[str, str]:
    """Device identifier of a person of one service."""
    return (DOMAIN, f"{instance_id}:{subject(SUBJECT_PERSON, slug)}")


def camera_identifier(instance_id: str, camera: str) -> tuple[str, str]:
    """Device identifier of a camera of one service."""
    return (DOMAIN, f"{instance_id}:{subject(SUBJECT_CAMERA, camera)}")


def is_valid_prefix(prefix: str) -> bool:
    """A topic prefix without wildcards or empty levels, which would break the subscriptions."""
    return bool(prefix) and not any(c in prefix for c in "+#") and "" not in prefix.split("/")


def topic_prefix(entry: KnownFacesConfigEntry) -> str:
    """The user's override (options), else what the service reported (data), else the default.

    Services older than the `topic_prefix` report leave the data without one.
    """
    prefix: str = (
        entry.options.get(CONF_TOPIC_PREFIX)
        or entry.data.get(CONF_TOPIC_PREFIX)
        or DEFAULT_TOPIC_PREFIX
    )
    return prefix


def _as_time(value: Any) -> datetime | None:
    """Parse the service's ISO-8601 times; a bad value is shown as unknown, not an error."""
    return dt_util.parse_datetime(value) if isinstance(value, str) else None


def _as_float(value: Any) -> float | None:
    """Accept the service's numbers, reject anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _as_json(payload: str | bytes | bytearray) -> dict[str, Any] | None:
    """Decode a JSON object payload, or None when it is not one."""
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class KnownFacesCoordinator(DataUpdateCoordinator[KnownFacesState]):
    """Holds the state of one service and keeps it current from MQTT."""

    config_entry: KnownFacesConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: KnownFacesConfigEntry,
        client: KnownFacesClient,
        health: dict[str, Any],
    ) -> None:
        """Start from what `/health` said; the MQTT topics fill in the rest."""
        super().__init__(hass, _LOGGER, config_entry=entry, name=DOMAIN)
        self.client = client
        self.health = health
        self.instance_id: str = health["instance_id"]
        self.prefix = topic_prefix(entry)
        # The override this coordinator was built with: a new one in the options means reload.
        self.prefix_override: str | None = entry.options.get(CONF_TOPIC_PREFIX)
        self.data = KnownFacesState()
        self.mqtt_connected = mqtt.is_connected(hass)
        self._people_with_entities: set[str] = set()
        # Cameras whose entities exist; platforms read it at setup, later ones come by signal.
        self.cameras_with_entities: set[str] = set()

    @property
    def available(self) -> bool:
        """Entities show values only while both MQTT links (HA's and the service's) are up.

        Never unavailable for lack of sightings: a status not yet heard counts as up.
        """
        return self.mqtt_connected and self.data.status != STATUS_OFFLINE

    async def async_subscribe(self) -> list[Callable[[], None]]:
        """Subscribe to every output topic of the service; returns the unsubscribe callables."""
        p = self.prefix
        topics: list[tuple[str, Callable[[mqtt.ReceiveMessage], None], str | None]] = [
            (f"{p}/status", self._on_status, "utf-8"),
            (f"{p}/gallery", self._on_gallery, "utf-8"),
            (f"{p}/person/+/state", self._on_person_state, "utf-8"),
            (f"{p}/camera/+/state", self._on_camera_state, "utf-8"),
            (f"{p}/camera/+/face", self._on_camera_face, None),
            (f"{p}/event/person_detected", self._on_person_detected, "utf-8"),
            (f"{p}/visitors", self._on_visitors, "utf-8"),
        ]
        unsubscribes = [
            await mqtt.async_subscribe(self.hass, topic, handler, qos=1, encoding=encoding)
            for topic, handler, encoding in topics
        ]
        unsubscribes.append(
            mqtt.async_subscribe_connection_status(self.hass, self._on_mqtt_connection)
        )
        # The link may have come up (or gone) while the platforms were being set up.
        self._on_mqtt_connection(mqtt.is_connected(self.hass))
        return unsubscribes

    @callback
    def async_set_people(self, people: list[dict[str, Any]]) -> None:
        """Replace the gallery: announce new people, rename, and drop the devices of the gone."""
        current: dict[str, Person] = {}
        for item in people:
            slug = item.get("person")
            if not isinstance(slug, str) or not slug:
                continue
            name = item.get("name")
            if not isinstance(name, str):
                name = slug
            face_count = item.get("face_count")
            current[slug] = Person(slug, name, face_count if isinstance(face_count, int) else 0)

        dev_reg = dr.async_get(self.hass)
        for slug, person in current.items():
            old = self.data.people.get(slug)
            if old is not None and old.name != person.name:
                device = dev_reg.async_get_device(
                    identifiers={person_identifier(self.instance_id, slug)}
                )
                if device is not None:
                    dev_reg.async_update_device(device.id, name=person.name)
        self.data.people = current
        for device, slug in self._devices(SUBJECT_PERSON):
            if slug not in current:
                self._async_remove_device(device)
                self._people_with_entities.discard(slug)
                self.data.sightings.pop(slug, None)

        new = [slug for slug in current if slug not in self._people_with_entities]
        self._people_with_entities.update(new)
        if new:
            async_dispatcher_send(self.hass, signal_new_people(self.config_entry.entry_id), new)

    def _devices(self, kind: str) -> list[tuple[dr.DeviceEntry, str]]:
        """This entry's devices of one kind of subject, each with its slug or camera name."""
        prefix = f"{self.instance_id}:{kind}:"
        dev_reg = dr.async_get(self.hass)
        return [
            (device, ident.removeprefix(prefix))
            for device in dr.async_entries_for_config_entry(dev_reg, self.config_entry.entry_id)
            for domain, ident in device.identifiers
            if domain == DOMAIN and ident.startswith(prefix)
        ]

    def camera_of(self, device: dr.DeviceEntry) -> str | None:
        """The camera a device of this entry stands for, or None for the service and people."""
        prefix = f"{self.instance_id}:{SUBJECT_CAMERA}:"
        for domain, ident in device.identifiers:
            if domain == DOMAIN and ident.startswith(prefix):
                return ident.removeprefix(prefix)
        return None

    @callback
    def _async_remove_device(self, device: dr.DeviceEntry) -> None:
        """Detach a device from the entry; the registries then remove it and its entities."""
        dr.async_get(self.hass).async_update_device(
            device.id, remove_config_entry_id=self.config_entry.entry_id
        )

    @callback
    def async_restore_cameras(self) -> None:
        """Bring back the cameras seen before a restart, from their devices.

        Their entities then exist (with restored values) even if the broker lost the retained
        camera topics: a camera nobody walked past since is not `unavailable`.
        """
        for _device, camera in self._devices(SUBJECT_CAMERA):
            self.data.cameras.setdefault(camera, CameraState())
            self.cameras_with_entities.add(camera)

    @callback
    def async_forget_camera(self, camera: str) -> None:
        """Drop a camera removed by the user or cleared by the service.

        If it reports again it comes back with new entities, like a camera never seen.
        """
        self.data.cameras.pop(camera, None)
        self.cameras_with_entities.discard(camera)

    @callback
    def _async_camera(self, camera: str, announce: bool = True) -> CameraState:
        """Return a camera's state, announcing the camera the first time it is named."""
        state = self.data.cameras.setdefault(camera, CameraState())
        if announce and camera not in self.cameras_with_entities:
            self.cameras_with_entities.add(camera)
            async_dispatcher_send(self.hass, signal_new_camera(self.config_entry.entry_id), camera)
        return state

    @callback
    def _async_notify(self, kind: str, name: str) -> None:
        """Let one subject's entities write their state."""
        async_dispatcher_send(
            self.hass, signal_updated(self.config_entry.entry_id, subject(kind, name))
        )

    def _topic_part(self, topic: str) -> str:
        """The `<camera>` or `<slug>` segment of `<prefix>/<kind>/<name>/<leaf>`."""
        return topic[len(self.prefix) + 1 :].split("/")[1]

    @callback
    def _on_mqtt_connection(self, connected: bool) -> None:
        """Home Assistant's own broker link: without it nothing shown is current."""
        self.mqtt_connected = connected
        self.async_update_listeners()

    @callback
    def _on_status(self, msg: mqtt.ReceiveMessage) -> None:
        """`online` / `offline`: drives every entity's availability; each change is logged once."""
        status = str(msg.payload).strip()
        previous, self.data.status = self.data.status, status
        if status == STATUS_OFFLINE and previous != STATUS_OFFLINE:
            _LOGGER.info("The Known Faces service at %s is offline", self.client.url)
        elif status == STATUS_ONLINE and previous == STATUS_OFFLINE:
            _LOGGER.info("The Known Faces service at %s is back online", self.client.url)
        self.async_update_listeners()

    @callback
    def _on_gallery(self, msg: mqtt.ReceiveMessage) -> None:
        """The retained list of enrolled people."""
        payload = _as_json(msg.payload)
        if payload is None or not isinstance(payload.get("people"), list):
            _LOGGER.warning("Ignoring malformed gallery message on %s", msg.topic)
            return
        version = payload.get("version")
        self.data.gallery_version = version if isinstance(version, int) else None
        self.async_set_people(payload["people"])

    @callback
    def _on_person_state(self, msg: mqtt.ReceiveMessage) -> None:
        """Where a person was last recognised (retained, so it survives restarts of both).

        An empty payload is the service clearing the topic of a person it forgot.
        """
        slug = self._topic_part(msg.topic)
        if not msg.payload:
            self.data.sightings.pop(slug, None)
            self._async_notify(SUBJECT_PERSON, slug)
            return
        payload = _as_json(msg.payload)
        if payload is None or not isinstance(payload.get("camera"), str):
            _LOGGER.warning("Ignoring malformed person state on %s", msg.topic)
            return
        self.data.sightings[slug] = Sighting(
            payload["camera"], _as_time(payload.get("time")), _as_float(payload.get("similarity"))
        )
        self._async_notify(SUBJECT_PERSON, slug)

    @callback
    def _on_camera_state(self, msg: mqtt.ReceiveMessage) -> None:
        """A camera's last processed snapshot: face count, the people in it, its crop's time.

        An empty payload is the service clearing a camera it no longer has: its device goes.
        """
        name = self._topic_part(msg.topic)
        if not msg.payload:
            for device, known in self._devices(SUBJECT_CAMERA):
                if known == name:
                    self._async_remove_device(device)
            self.async_forget_camera(name)
            return
        payload = _as_json(msg.payload)
        if payload is None:
            _LOGGER.warning("Ignoring malformed camera state on %s", msg.topic)
            return
        camera = self._async_camera(name)
        face_count = payload.get("face_count")
        camera.face_count = face_count if isinstance(face_count, int) else None
        unknown = payload.get("unknown")
        camera.unknown = unknown if isinstance(unknown, int) else None
        camera.time = _as_time(payload.get("time"))
        frigate_event_id = payload.get("frigate_event_id")
        camera.frigate_event_id = frigate_event_id if isinstance(frigate_event_id, str) else None
        people = [p for p in payload.get("people") or [] if isinstance(p, dict) and p.get("person")]
        if people:
            best = max(people, key=lambda p: _as_float(p.get("similarity")) or 0.0)
            camera.last_person_slug = best["person"]
            camera.last_person = best.get("name") or best["person"]
            camera.last_similarity = _as_float(best.get("similarity"))
        camera.reported = True
        camera.reported_face_time = _as_time(payload.get("face_time"))
        self._async_notify(SUBJECT_CAMERA, name)
        if camera.face is not None and camera.face_time is None:
            # The crop came first (retained messages of two topics arrive in any order).
            self._async_stamp_face(camera, name)

    @callback
    def _on_camera_face(self, msg: mqtt.ReceiveMessage) -> None:
        """The JPEG of a camera's latest face crop; the same bytes again change nothing.

        The broker hands the retained crop over again at every restart, reload and reconnect:
        the image entity's state (its time) must not move then, or automations fire.
        """
        # The face alone does not create the camera's entities (its state or an event does), but
        # it is kept so the image entity shows it once they exist.
        name = self._topic_part(msg.topic)
        camera = self._async_camera(name, announce=False)
        face = msg.payload if isinstance(msg.payload, bytes) and msg.payload else None
        if face == camera.face:
            return
        camera.face, camera.face_time = face, None
        if face is None or camera.reported:
            self._async_stamp_face(camera, name)

    @callback
    def _async_stamp_face(self, camera: CameraState, name: str) -> None:
        """Give the crop its time: the service's `face_time`, or now for older services.

        The service publishes a camera's state before its crop, so `reported_face_time` is the
        new crop's by the time its bytes arrive.
        """
        if camera.face is not None:
            camera.face_time = camera.reported_face_time or dt_util.utcnow()
        self._async_notify(SUBJECT_FACE, name)

    @callback
    def _on_person_detected(self, msg: mqtt.ReceiveMessage) -> None:
        """One face: fire the bus event, update person and camera, feed the event entities."""
        payload = _as_json(msg.payload)
        if payload is None or not isinstance(payload.get("camera"), str):
            _LOGGER.warning("Ignoring malformed person_detected message")
            return
        self.hass.bus.async_fire(EVENT_PERSON_DETECTED, payload)
        camera = self._async_camera(payload["camera"])
        slug = payload.get("person")
        if payload.get("known") and isinstance(slug, str):
            time = _as_time(payload.get("time"))
            similarity = _as_float(payload.get("similarity"))
            self.data.sightings[slug] = Sighting(payload["camera"], time, similarity)
            camera.last_person_slug = slug
            camera.last_person = payload.get("name") or slug
            camera.last_similarity = similarity
            self._async_notify(SUBJECT_PERSON, slug)
            self._async_notify(SUBJECT_CAMERA, payload["camera"])
        async_dispatcher_send(
            self.hass, signal_person_detected(self.config_entry.entry_id), payload
        )

    @callback
    def _on_visitors(self, msg: mqtt.ReceiveMessage) -> None:
        """The retained summary of visitors awaiting review."""
        payload = _as_json(msg.payload)
        pending = payload.get("pending") if payload else None
        newest = payload.get("newest") if payload else None
        if not isinstance(pending, int) or not isinstance(newest, list):
            _LOGGER.warning("Ignoring malformed visitors message on %s", msg.topic)
            return
        listed = [v for v in newest if isinstance(v, dict) and isinstance(v.get("visitor"), str)]
        self.data.visitors = Visitors(pending, listed)
        self._async_notify(SUBJECT_VISITORS, VISITORS_SUMMARY)
