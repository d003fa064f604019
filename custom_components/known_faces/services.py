"""Services `enroll`, `forget`, `rename`, `recognize` and, for visitors (unknown faces grouped),
`assign_visitor`, `ignore_visitor` and `forget_visitor`, over the service's HTTP API.

Registered once in `async_setup`; each call names its config entry. A user's mistake (no face in
the image, unknown person, path outside the allowlist, ...) raises `ServiceValidationError` with a
translation key; a service or network failure raises `HomeAssistantError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import ConfigEntrySelector

from .api import InvalidAuth, KnownFacesError, RequestRejected, ServiceTooOld
from .const import DOMAIN
from .data import KnownFacesConfigEntry

SERVICE_ENROLL = "enroll"
SERVICE_FORGET = "forget"
SERVICE_RENAME = "rename"
SERVICE_RECOGNIZE = "recognize"
SERVICE_ASSIGN_VISITOR = "assign_visitor"
SERVICE_IGNORE_VISITOR = "ignore_visitor"
SERVICE_FORGET_VISITOR = "forget_visitor"

ATTR_CONFIG_ENTRY = "config_entry"
ATTR_NAME = "name"
ATTR_PERSON = "person"
ATTR_FILE_PATH = "file_path"
ATTR_CAMERA = "camera"
ATTR_URL = "url"
ATTR_STREAM_CAMERA = "stream_camera"
ATTR_FORCE = "force"
ATTR_PUBLISH = "publish"
ATTR_VISITOR = "visitor"
ATTR_IGNORED = "ignored"

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=30)
_DOWNLOAD_CHUNK = 64 * 1024

# Error codes of the service that describe the user's input, not a failure of the service, and
# the translation key of each. Every one of those messages takes the service's `{message}`.
USER_ERROR_KEYS: dict[str, str] = {
    "no_face": "no_face",
    "several_faces": "several_faces",
    "too_small": "too_small",
    "blurred": "blurred",
    "low_quality": "low_quality",
    "invalid_image": "invalid_image",
    "image_too_large": "image_too_large",
    "request_too_large": "image_too_large",
    # The person went between our lookup and the request (forgotten by someone else).
    "unknown_person": "person_gone",
    "duplicate_name": "duplicate_name",
    "invalid_name": "invalid_name",
    "unknown_visitor": "unknown_visitor",
    "does_not_match_person": "does_not_match_person",
    "unknown_camera": "unknown_stream_camera",
    "no_frame": "no_frame",
}

# Optional: with a single Known Faces service, YAML automations need not name its entry id.
_ENTRY: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_CONFIG_ENTRY): ConfigEntrySelector({"integration": DOMAIN})
}
_IMAGE_SOURCE: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_FILE_PATH): cv.string,
    vol.Optional(ATTR_CAMERA): cv.entity_domain("camera"),
    vol.Optional(ATTR_URL): cv.url,
}
ENROLL_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        vol.Required(ATTR_NAME): cv.string,
        **_IMAGE_SOURCE,
        # A camera the service itself reads a stream of: the face in view now (DESIGN §11).
        vol.Optional(ATTR_STREAM_CAMERA): cv.matches_regex(r"^[A-Za-z0-9_\-]{1,64}$"),
        vol.Optional(ATTR_FORCE, default=False): cv.boolean,
    }
)
FORGET_SCHEMA = vol.Schema({**_ENTRY, vol.Required(ATTR_PERSON): cv.string})
RENAME_SCHEMA = vol.Schema(
    {**_ENTRY, vol.Required(ATTR_PERSON): cv.string, vol.Required(ATTR_NAME): cv.string}
)
RECOGNIZE_SCHEMA = vol.Schema(
    {**_ENTRY, **_IMAGE_SOURCE, vol.Optional(ATTR_PUBLISH, default=False): cv.boolean}
)
# The service's visitor ids (`v_0042`); anything else never reaches a URL path.
_VISITOR: dict[vol.Marker, Any] = {
    vol.Required(ATTR_VISITOR): vol.All(cv.string, vol.Strip, cv.matches_regex(r"^v_[0-9]{4,19}$"))
}
ASSIGN_VISITOR_SCHEMA = vol.Schema(
    {
        **_ENTRY,
        **_VISITOR,
        vol.Optional(ATTR_NAME): cv.string,
        vol.Optional(ATTR_PERSON): cv.string,
    }
)
IGNORE_VISITOR_SCHEMA = vol.Schema(
    {**_ENTRY, **_VISITOR, vol.Optional(ATTR_IGNORED, default=True): cv.boolean}
)
FORGET_VISITOR_SCHEMA = vol.Schema({**_ENTRY, **_VISITOR})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's services."""

    async def enroll(call: ServiceCall) -> ServiceResponse:
        entry = _loaded_entry(hass, call)
        client = entry.runtime_data.client
        stream_camera: str | None = call.data.get(ATTR_STREAM_CAMERA)
        if stream_camera is None:
            image: bytes | None
            image, source = await _async_read_image(hass, call)
        elif any(call.data.get(key) for key in (ATTR_FILE_PATH, ATTR_CAMERA, ATTR_URL)):
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="one_image_source"
            )
        else:
            image, source = None, "home_assistant:stream"
        name = call.data[ATTR_NAME].strip()
        force = call.data[ATTR_FORCE]
        async with translate_errors(hass, entry):
            people = await client.people()
            slug = _slug_of(people, name)
            # By name the service decides atomically: a refused face creates nobody, so no
            # device appears and vanishes again. The face in view of a stream camera is only
            # taken by name (the service reads the frame).
            if slug is None or image is None:
                known = next((p["name"] for p in people if p.get("person") == slug), name)
                result = await client.enroll(
                    str(known), image, source, force=force, stream_camera=stream_camera
                )
            else:
                result = await client.add_face(slug, image, source, force=force)
        person = result["person"]
        answer: dict[str, Any] = {
            "person": person["person"],
            "name": person["name"],
            "created": bool(result.get("created", False)),
            "face": result.get("face"),
        }
        if result.get("warning"):
            answer["warning"] = result["warning"]
        return answer

    async def forget(call: ServiceCall) -> None:
        entry = _loaded_entry(hass, call)
        client = entry.runtime_data.client
        async with translate_errors(hass, entry):
            slug = _resolve_person(await client.people(), call.data[ATTR_PERSON])
            await client.delete_person(slug)

    async def rename(call: ServiceCall) -> None:
        entry = _loaded_entry(hass, call)
        client = entry.runtime_data.client
        async with translate_errors(hass, entry):
            slug = _resolve_person(await client.people(), call.data[ATTR_PERSON])
            await client.rename_person(slug, call.data[ATTR_NAME].strip())

    async def recognize(call: ServiceCall) -> ServiceResponse:
        entry = _loaded_entry(hass, call)
        image, _ = await _async_read_image(hass, call)
        camera = call.data.get(ATTR_CAMERA)
        async with translate_errors(hass, entry):
            result = await entry.runtime_data.client.recognize(
                image,
                camera=camera.split(".", 1)[1] if camera else None,
                publish=call.data[ATTR_PUBLISH],
            )
        return result

    hass.services.async_register(
        DOMAIN, SERVICE_ENROLL, enroll, ENROLL_SCHEMA, SupportsResponse.OPTIONAL
    )
    hass.services.async_register(DOMAIN, SERVICE_FORGET, forget, FORGET_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_RENAME, rename, RENAME_SCHEMA)
    hass.services.async_register(
        DOMAIN, SERVICE_RECOGNIZE, recognize, RECOGNIZE_SCHEMA, SupportsResponse.ONLY
    )
    _async_setup_visitor_services(hass)


@callback
def _async_setup_visitor_services(hass: HomeAssistant) -> None:
    """Register the visitor services (DESIGN §9)."""

    async def assign_visitor(call: ServiceCall) -> ServiceResponse:
        entry = _loaded_entry(hass, call)
        client = entry.runtime_data.client
        name: str | None = call.data.get(ATTR_NAME)
        person: str | None = call.data.get(ATTR_PERSON)
        visitor = call.data[ATTR_VISITOR]
        async with translate_errors(hass, entry):
            if person is not None and name is None:
                slug = _resolve_person(await client.people(), person)
                result = await client.assign_visitor(visitor, person=slug)
            elif name is not None and person is None:
                # A name that is taken is refused by the service (duplicate_name, naming the
                # slug): two people are never merged by accident.
                result = await client.assign_visitor(visitor, name=name.strip())
            else:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="name_or_person"
                )
        return {
            "person": result["person"]["person"],
            "name": result["person"]["name"],
            "created": bool(result.get("created")),
            "faces": result.get("faces", []),
            "refused": result.get("refused", []),
        }

    async def ignore_visitor(call: ServiceCall) -> None:
        entry = _loaded_entry(hass, call)
        async with translate_errors(hass, entry):
            await entry.runtime_data.client.ignore_visitor(
                call.data[ATTR_VISITOR], call.data[ATTR_IGNORED]
            )

    async def forget_visitor(call: ServiceCall) -> None:
        entry = _loaded_entry(hass, call)
        async with translate_errors(hass, entry):
            await entry.runtime_data.client.forget_visitor(call.data[ATTR_VISITOR])

    hass.services.async_register(
        DOMAIN,
        SERVICE_ASSIGN_VISITOR,
        assign_visitor,
        ASSIGN_VISITOR_SCHEMA,
        SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN, SERVICE_IGNORE_VISITOR, ignore_visitor, IGNORE_VISITOR_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_FORGET_VISITOR, forget_visitor, FORGET_VISITOR_SCHEMA
    )


def _loaded_entry(hass: HomeAssistant, call: ServiceCall) -> KnownFacesConfigEntry:
    """The call's config entry (or the only one), which must be a loaded Known Faces entry."""
    entry_id = call.data.get(ATTR_CONFIG_ENTRY)
    if entry_id is None:
        entries = hass.config_entries.async_loaded_entries(DOMAIN)
        if len(entries) != 1:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="entry_required"
            )
        return entries[0]
    entry: KnownFacesConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


def _slug_of(people: list[dict[str, Any]], wanted: str) -> str | None:
    """The slug of a person given by slug, else by display name (case-insensitive)."""
    for person in people:
        if person.get("person") == wanted:
            return wanted
    folded = wanted.casefold()
    for person in people:
        if str(person.get("name", "")).casefold() == folded:
            return str(person["person"])
    return None


def _resolve_person(people: list[dict[str, Any]], wanted: str) -> str:
    """The slug of an existing person, or a translated error naming what was asked for."""
    slug = _slug_of(people, wanted.strip())
    if slug is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_person",
            translation_placeholders={"person": wanted},
        )
    return slug


async def _async_read_image(hass: HomeAssistant, call: ServiceCall) -> tuple[bytes, str]:
    """The image bytes from exactly one of file, camera or URL, and a source label for them."""
    given = [key for key in (ATTR_FILE_PATH, ATTR_CAMERA, ATTR_URL) if call.data.get(key)]
    if len(given) != 1:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="one_image_source")
    if given == [ATTR_FILE_PATH]:
        image = await _async_read_file(hass, call.data[ATTR_FILE_PATH])
        source = "home_assistant:file"
    elif given == [ATTR_CAMERA]:
        image = await _async_camera_snapshot(hass, call.data[ATTR_CAMERA])
        source = f"home_assistant:{call.data[ATTR_CAMERA]}"
    else:
        image = await _async_download(hass, call.data[ATTR_URL])
        source = "home_assistant:url"
    _check_size(len(image))
    return image, source


def _check_size(size: int) -> None:
    """Refuse an image larger than the service takes before sending it."""
    if size > MAX_IMAGE_BYTES:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="image_too_large")


async def _async_read_file(hass: HomeAssistant, file_path: str) -> bytes:
    """Read a file, but only from a directory allowlisted in `allowlist_external_dirs`."""
    if not hass.config.is_allowed_path(file_path):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="path_not_allowed",
            translation_placeholders={"path": file_path},
        )
    try:
        return await hass.async_add_executor_job(Path(file_path).read_bytes)
    except OSError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="file_not_readable",
            translation_placeholders={"path": file_path, "error": str(err)},
        ) from err


async def _async_camera_snapshot(hass: HomeAssistant, entity_id: str) -> bytes:
    """A snapshot from a camera entity."""
    # Imported here so the integration loads even where the camera integration's own
    # requirements are missing; only this service path needs it.
    from homeassistant.components.camera import async_get_image

    try:
        image = await async_get_image(hass, entity_id)
    except HomeAssistantError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="camera_failed",
            translation_placeholders={"entity_id": entity_id, "error": str(err)},
        ) from err
    return image.content


async def _async_download(hass: HomeAssistant, url: str) -> bytes:
    """Fetch a whole image by URL with Home Assistant's HTTP session, up to the size limit.

    Read to the end: one `read(n)` returns only what has arrived so far. A failure is the
    network's or the other server's, not the user's, so it is a `HomeAssistantError`.
    """
    session = async_get_clientsession(hass)
    try:
        async with session.get(url, timeout=_DOWNLOAD_TIMEOUT) as resp:
            resp.raise_for_status()
            _check_size(resp.content_length or 0)
            image = bytearray()
            async for chunk in resp.content.iter_chunked(_DOWNLOAD_CHUNK):
                image += chunk
                _check_size(len(image))
            return bytes(image)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="download_failed",
            translation_placeholders={"url": url, "error": str(err)},
        ) from err


@asynccontextmanager
async def translate_errors(
    hass: HomeAssistant, entry: KnownFacesConfigEntry
) -> AsyncIterator[None]:
    """Turn the client's errors into translated Home Assistant errors."""
    try:
        yield
    except KnownFacesError as err:
        raise_translated(hass, entry, err)


def raise_translated(
    hass: HomeAssistant, entry: KnownFacesConfigEntry, err: KnownFacesError
) -> NoReturn:
    """Map one client error; the user's mistakes become `ServiceValidationError`."""
    if isinstance(err, RequestRejected):
        key = USER_ERROR_KEYS.get(err.code)
        if key is None and err.status == 413:
            key = "image_too_large"
        if key is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key=key,
                translation_placeholders={"message": err.message},
            ) from err
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="request_rejected",
            translation_placeholders={"code": err.code, "message": err.message},
        ) from err
    if isinstance(err, ServiceTooOld):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="service_too_old",
            translation_placeholders={"url": entry.runtime_data.client.url},
        ) from err
    if isinstance(err, InvalidAuth):
        # The token stopped working: let the user enter the new one.
        entry.async_start_reauth(hass)
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="invalid_auth") from err
    raise HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="cannot_connect",
        translation_placeholders={"url": entry.runtime_data.client.url, "error": str(err)},
    ) from err
