"""Constants shared by the Known Faces integration."""

from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "known_faces"

CONF_TOPIC_PREFIX: Final = "topic_prefix"
DEFAULT_TOPIC_PREFIX: Final = "known_faces"
DEFAULT_PORT: Final = 8066

# Fired on the HA bus for every face the service reports; the data is the MQTT payload unchanged.
EVENT_PERSON_DETECTED: Final = "known_faces_person_detected"

# Event types of the per-camera event entity.
EVENT_KNOWN: Final = "known"
EVENT_UNKNOWN: Final = "unknown"
# A face matching a visitor the user ignores (the postman): never fired as `unknown`.
EVENT_IGNORED: Final = "ignored"

STATUS_ONLINE: Final = "online"
STATUS_OFFLINE: Final = "offline"

PLATFORMS: Final = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SENSOR,
]
