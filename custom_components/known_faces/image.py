"""Image entities: per camera the latest aligned face crop the service published; on the
service's device the best crop of the newest visitor awaiting review."""

from __future__ import annotations

import logging

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import KnownFacesError
from .coordinator import (
    SUBJECT_FACE,
    SUBJECT_VISITORS,
    VISITORS_SUMMARY,
    KnownFacesCoordinator,
    subject,
)
from .data import KnownFacesConfigEntry
from .entity import (
    KnownFacesEntity,
    async_track_subjects,
    camera_device_info,
    service_device_info,
)

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: KnownFacesConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a face image entity for every camera, now and as cameras appear."""
    coordinator = entry.runtime_data.coordinator

    @callback
    def add_camera(camera: str) -> None:
        async_add_entities([KnownFacesFaceImage(hass, coordinator, camera)])

    async_track_subjects(hass, entry, add_camera=add_camera)
    async_add_entities([KnownFacesVisitorImage(hass, coordinator)])


class KnownFacesFaceImage(KnownFacesEntity, ImageEntity):
    """Shows the JPEG bytes retained on `<prefix>/camera/<camera>/face`.

    Its state is the time the service took the crop, so it moves only with a new crop.
    """

    _attr_content_type = "image/jpeg"
    _attr_translation_key = "last_face"

    def __init__(
        self, hass: HomeAssistant, coordinator: KnownFacesCoordinator, camera: str
    ) -> None:
        """Both bases need initialising: the image base keeps hass and the access tokens."""
        KnownFacesEntity.__init__(
            self,
            coordinator,
            camera_device_info(coordinator, camera),
            f"camera:{camera}:last_face",
            subject(SUBJECT_FACE, camera),
        )
        ImageEntity.__init__(self, hass)
        self._camera = camera
        self._sync_last_updated()

    def _sync_last_updated(self) -> None:
        """Take the crop's time from the coordinator, which stamps each new crop once."""
        state = self.coordinator.data.cameras.get(self._camera)
        self._attr_image_last_updated = state.face_time if state else None

    @callback
    def _handle_coordinator_update(self) -> None:
        """Pick up a new crop."""
        self._sync_last_updated()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        """The latest crop's bytes."""
        state = self.coordinator.data.cameras.get(self._camera)
        return state.face if state else None


class KnownFacesVisitorImage(KnownFacesEntity, ImageEntity):
    """The best crop of the newest visitor awaiting review, fetched over HTTP when it changes.

    Its state is that visitor's last sighting, so it moves when a visitor comes (again).
    """

    _attr_content_type = "image/jpeg"
    _attr_translation_key = "newest_visitor"

    def __init__(self, hass: HomeAssistant, coordinator: KnownFacesCoordinator) -> None:
        """On the service's device, woken by the visitors summary."""
        KnownFacesEntity.__init__(
            self,
            coordinator,
            service_device_info(coordinator),
            "visitors:newest",
            subject(SUBJECT_VISITORS, VISITORS_SUMMARY),
        )
        ImageEntity.__init__(self, hass)
        self._fetched: tuple[str, str] | None = None
        self._crop: bytes | None = None
        self._sync()

    def _newest(self) -> tuple[str, str] | None:
        """(visitor id, last seen) of the newest visitor, or None."""
        newest = self.coordinator.data.visitors.newest
        if not newest:
            return None
        return str(newest[0]["visitor"]), str(newest[0].get("last_seen"))

    def _sync(self) -> None:
        newest = self._newest()
        self._attr_image_last_updated = dt_util.parse_datetime(newest[1]) if newest else None
        self._attr_extra_state_attributes = {"visitor": newest[0] if newest else None}

    @callback
    def _handle_coordinator_update(self) -> None:
        """Pick up a new newest visitor."""
        self._sync()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        """The crop, fetched once per visitor and sighting."""
        newest = self._newest()
        if newest is None:
            return None
        if newest != self._fetched:
            try:
                self._crop = await self.coordinator.client.visitor_crop(newest[0])
            except KnownFacesError as err:
                _LOGGER.debug("No crop of visitor %s: %s", newest[0], err)
                return None
            self._fetched = newest
        return self._crop
