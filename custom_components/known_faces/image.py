"""Image entity per camera: the latest aligned face crop the service published."""

from __future__ import annotations

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import SUBJECT_FACE, KnownFacesCoordinator, subject
from .data import KnownFacesConfigEntry
from .entity import KnownFacesEntity, async_track_subjects, camera_device_info

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
