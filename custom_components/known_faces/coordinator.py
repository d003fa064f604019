"""Push coordinator: turns the service's MQTT topics into `KnownFacesState`.

There is no polling. The coordinator subscribes to the service's topics with wildcards once, at
entry setup (so no retained message is missed while entities are still being added), keeps the
latest state, announces new people and cameras to the platforms through dispatcher signals and
removes a person's device (and so their entities) when the person leaves the gallery.
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
)
from .models import CameraState, KnownFacesState, Person, Sighting

if TYPE_CHECKING:
    from datetime import datetime

    from .api import KnownFacesClient
    from .data import KnownFacesConfigEntry

_LOGGER = logging.getLogger(__name__)


def signal_new_people(entry_id: str) -> str:
    """Dispatcher signal carrying the slugs of people that need entities."""
    return f"{DOMAIN}_{entry_id}_new_people"


def signal_new_camera(entry_id: str) -> str:
    """Dispatcher signal carrying the name of a camera that needs entities."""
    return f"{DOMAIN}_{entry_id}_new_camera"


def signal_person_detected(entry_id: str) -> str:
    """Dispatcher signal carrying each `person_detected` payload, for the event entities."""
    return f"{DOMAIN}_{entry_id}_person_detected"


def person_identifier(instance_id: str, slug: str) -> tuple[str, str]:
    """Device identifier of a person of one service."""
    return (DOMAIN, f"{instance_id}:person:{slug}")


def camera_identifier(instance_id: str, camera: str) -> tuple[str, str]:
    """Device identifier of a camera of one service."""
    return (DOMAIN, f"{instance_id}:camera:{camera}")


def _as_time(value: Any) -> datetime | None:
    """Parse the service's ISO-8601 times; a bad value is shown as unknown, not an error."""
    return dt_util.parse_datetime(value) if isinstance(value, str) else None


def _as_float(value: Any) -> float | None:
    """Accept the service's numbers, reject anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _as_json(payload: str | bytes) -> dict[str, Any] | None:
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
        self.prefix: str = entry.options.get(CONF_TOPIC_PREFIX, DEFAULT_TOPIC_PREFIX)
        self.data = KnownFacesState()
        self._people_with_entities: set[str] = set()
        # Cameras whose entities exist; platforms read it at setup, later ones come by signal.
        self.cameras_with_entities: set[str] = set()

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
        ]
        return [
            await mqtt.async_subscribe(self.hass, topic, handler, qos=1, encoding=encoding)
            for topic, handler, encoding in topics
        ]

    @callback
    def async_set_people(self, people: list[dict[str, Any]]) -> None:
        """Replace the gallery: announce new people, rename, and drop the devices of the gone."""
        current: dict[str, Person] = {}
        for item in people:
            slug = item.get("person")
            if not isinstance(slug, str) or not slug:
                continue
            name = item.get("name") if isinstance(item.get("name"), str) else slug
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
        self._async_prune_people(dev_reg)

        new = [slug for slug in current if slug not in self._people_with_entities]
        self._people_with_entities.update(new)
        if new:
            async_dispatcher_send(self.hass, signal_new_people(self.config_entry.entry_id), new)

    @callback
    def _async_prune_people(self, dev_reg: dr.DeviceRegistry) -> None:
        """Remove the device (and with it the entities) of every person no longer enrolled."""
        prefix = f"{self.instance_id}:person:"
        for device in dr.async_entries_for_config_entry(dev_reg, self.config_entry.entry_id):
            for domain, ident in device.identifiers:
                if domain != DOMAIN or not ident.startswith(prefix):
                    continue
                slug = ident.removeprefix(prefix)
                if slug not in self.data.people:
                    dev_reg.async_update_device(
                        device.id, remove_config_entry_id=self.config_entry.entry_id
                    )
                    self._people_with_entities.discard(slug)
                    self.data.sightings.pop(slug, None)

    @callback
    def async_restore_cameras(self) -> None:
        """Bring back the cameras seen before a restart, from their devices.

        Their entities then exist (with restored values) even if the broker lost the retained
        camera topics: a camera nobody walked past since is not `unavailable`.
        """
        prefix = f"{self.instance_id}:camera:"
        dev_reg = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(dev_reg, self.config_entry.entry_id):
            for domain, ident in device.identifiers:
                if domain == DOMAIN and ident.startswith(prefix):
                    camera = ident.removeprefix(prefix)
                    self.data.cameras.setdefault(camera, CameraState())
                    self.cameras_with_entities.add(camera)

    @callback
    def _async_camera(self, camera: str, announce: bool = True) -> CameraState:
        """Return a camera's state, announcing the camera the first time it is named."""
        state = self.data.cameras.setdefault(camera, CameraState())
        if announce and camera not in self.cameras_with_entities:
            self.cameras_with_entities.add(camera)
            async_dispatcher_send(self.hass, signal_new_camera(self.config_entry.entry_id), camera)
        return state

    def _topic_part(self, topic: str) -> str:
        """The `<camera>` or `<slug>` segment of `<prefix>/<kind>/<name>/<leaf>`."""
        return topic[len(self.prefix) + 1 :].split("/")[1]

    @callback
    def _on_status(self, msg: mqtt.ReceiveMessage) -> None:
        """`online` / `offline`: drives every entity's availability."""
        self.data.status = str(msg.payload).strip()
        self.async_set_updated_data(self.data)

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
        self.async_set_updated_data(self.data)

    @callback
    def _on_person_state(self, msg: mqtt.ReceiveMessage) -> None:
        """Where a person was last recognised (retained, so it survives restarts of both)."""
        payload = _as_json(msg.payload)
        if payload is None or not isinstance(payload.get("camera"), str):
            _LOGGER.warning("Ignoring malformed person state on %s", msg.topic)
            return
        self.data.sightings[self._topic_part(msg.topic)] = Sighting(
            payload["camera"], _as_time(payload.get("time")), _as_float(payload.get("similarity"))
        )
        self.async_set_updated_data(self.data)

    @callback
    def _on_camera_state(self, msg: mqtt.ReceiveMessage) -> None:
        """A camera's last processed snapshot: face count and the people in it."""
        payload = _as_json(msg.payload)
        if payload is None:
            _LOGGER.warning("Ignoring malformed camera state on %s", msg.topic)
            return
        camera = self._async_camera(self._topic_part(msg.topic))
        face_count = payload.get("face_count")
        camera.face_count = face_count if isinstance(face_count, int) else None
        unknown = payload.get("unknown")
        camera.unknown = unknown if isinstance(unknown, int) else None
        camera.time = _as_time(payload.get("time"))
        people = [p for p in payload.get("people") or [] if isinstance(p, dict) and p.get("person")]
        if people:
            best = max(people, key=lambda p: _as_float(p.get("similarity")) or 0.0)
            camera.last_person_slug = best["person"]
            camera.last_person = best.get("name") or best["person"]
            camera.last_similarity = _as_float(best.get("similarity"))
        self.async_set_updated_data(self.data)

    @callback
    def _on_camera_face(self, msg: mqtt.ReceiveMessage) -> None:
        """The JPEG of a camera's latest face crop."""
        # The face alone does not create the camera's entities (its state or an event does), but
        # it is kept so the image entity shows it once they exist.
        state = self._async_camera(self._topic_part(msg.topic), announce=False)
        state.face = msg.payload if isinstance(msg.payload, bytes) else None
        state.face_time = dt_util.utcnow()
        self.async_set_updated_data(self.data)

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
        async_dispatcher_send(
            self.hass, signal_person_detected(self.config_entry.entry_id), payload
        )
        self.async_set_updated_data(self.data)
