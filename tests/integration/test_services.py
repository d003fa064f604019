"""Services `enroll`, `forget`, `rename`, `recognize` over HTTP against the in-test service."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components.camera import Image
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from PIL import Image as PILImage
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.known_faces.const import DOMAIN

from .fake_service import IMAGE, INSTANCE_ID, SOMEONE_ELSE, TOKEN, FakeService


@pytest.fixture
async def entry(hass: HomeAssistant, mqtt_mock: Any, fake_service: FakeService) -> MockConfigEntry:
    """The integration set up against the in-test service."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=INSTANCE_ID,
        data={CONF_URL: fake_service.url, CONF_TOKEN: TOKEN},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
def allowed_image(hass: HomeAssistant, tmp_path: Path) -> Path:
    """An image in a directory Home Assistant is allowed to read."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    path = tmp_path / "alice.jpg"
    path.write_bytes(IMAGE)
    return path


async def _call(hass: HomeAssistant, service: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """Call one of the integration's services, blocking."""
    return await hass.services.async_call(DOMAIN, service, data, blocking=True, **kwargs)


def _check_error(err: pytest.ExceptionInfo[HomeAssistantError], key: str, user_error: bool) -> None:
    """The error's translation key, its kind, and a message with every placeholder filled.

    Bug seen in a real instance: the `unknown_person` message showed a literal `{person}`.
    """
    assert err.value.translation_key == key
    assert isinstance(err.value, ServiceValidationError) is user_error
    message = str(err.value)
    assert message
    assert "{" not in message, message


def _photo_jpeg(width: int, height: int) -> bytes:
    """A real JPEG of several hundred KB (noise compresses badly), made here."""
    rng = random.Random(4)
    image = PILImage.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def test_enroll_from_file_creates_person(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, allowed_image: Path
) -> None:
    """Enrolling a new name creates the person, then adds the face."""
    response = await _call(
        hass,
        "enroll",
        {"config_entry": entry.entry_id, "name": "Alice", "file_path": str(allowed_image)},
        return_response=True,
    )
    assert response["person"] == "alice"
    assert response["created"] is True
    assert fake_service.people["alice"]["face_count"] == 1
    assert fake_service.faces == [("alice", IMAGE, "home_assistant:file")]
    # One atomic request, by name.
    assert fake_service.requests[-1] == "POST /api/v1/enroll"


async def test_enroll_existing_person_by_name(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, allowed_image: Path
) -> None:
    """An existing person is matched by display name, whatever the case."""
    fake_service.add_person("Alice")
    response = await _call(
        hass,
        "enroll",
        {"config_entry": entry.entry_id, "name": "ALICE", "file_path": str(allowed_image)},
        return_response=True,
    )
    assert response["created"] is False
    assert len(fake_service.people) == 1
    assert fake_service.people["alice"]["face_count"] == 1


async def test_enroll_a_photo_unlike_the_person_needs_force(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_service: FakeService,
    allowed_image: Path,
) -> None:
    """The service refuses a photo unlike the person's others (a wrong photo poisons the
    gallery): a translated validation error; with `force` it is added, with the warning."""
    fake_service.add_person("Alice")
    await hass.async_add_executor_job(allowed_image.write_bytes, SOMEONE_ELSE)
    data = {"config_entry": entry.entry_id, "name": "Alice", "file_path": str(allowed_image)}
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "enroll", data, return_response=True)
    _check_error(err, "does_not_match_person", user_error=True)
    assert fake_service.people["alice"]["face_count"] == 0
    response = await _call(hass, "enroll", {**data, "force": True}, return_response=True)
    assert response["warning"] == "does_not_match_person"
    assert fake_service.people["alice"]["face_count"] == 1
    assert fake_service.requests[-1] == "POST /api/v1/people/alice/faces"


async def test_enroll_the_face_in_view_of_a_stream_camera(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, allowed_image: Path
) -> None:
    """`stream_camera` names one of the service's stream cameras: the service takes its
    current frame (no image is sent), by name, creating the person only if it is accepted."""
    response = await _call(
        hass,
        "enroll",
        {"config_entry": entry.entry_id, "name": "Alice", "stream_camera": "front_door"},
        return_response=True,
    )
    assert (response["person"], response["created"]) == ("alice", True)
    assert fake_service.requests[-1] == "POST /api/v1/enroll"
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "enroll",
            {"config_entry": entry.entry_id, "name": "Bob", "stream_camera": "attic"},
            return_response=True,
        )
    _check_error(err, "unknown_stream_camera", user_error=True)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "enroll",
            {
                "config_entry": entry.entry_id,
                "name": "Bob",
                "stream_camera": "front_door",
                "file_path": str(allowed_image),
            },
        )
    _check_error(err, "one_image_source", user_error=True)
    assert list(fake_service.people) == ["alice"]


async def test_enroll_existing_person_by_slug(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, allowed_image: Path
) -> None:
    """A slug names its person even when the display name differs."""
    fake_service.add_person("Barack Obama")
    response = await _call(
        hass,
        "enroll",
        {"config_entry": entry.entry_id, "name": "barack_obama", "file_path": str(allowed_image)},
        return_response=True,
    )
    assert (response["person"], response["name"], response["created"]) == (
        "barack_obama",
        "Barack Obama",
        False,
    )
    assert fake_service.requests[-1] == "POST /api/v1/people/barack_obama/faces"


async def test_enroll_path_not_allowed(
    hass: HomeAssistant, entry: MockConfigEntry, tmp_path: Path
) -> None:
    """Files outside allowlist_external_dirs are refused before anything is sent."""
    path = tmp_path / "secret.jpg"
    path.write_bytes(IMAGE)
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "enroll", {"config_entry": entry.entry_id, "name": "A", "file_path": str(path)}
        )
    _check_error(err, "path_not_allowed", user_error=True)


@pytest.mark.parametrize(
    "reason", ["no_face", "several_faces", "too_small", "blurred", "low_quality"]
)
async def test_enroll_rejected_image(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_service: FakeService,
    tmp_path: Path,
    reason: str,
) -> None:
    """The service's 422 reason reaches the user, and nobody is created, not even for a moment.

    Bug seen in a real instance: the person was created, then deleted, so their device and
    entities appeared and vanished.
    """
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    path = tmp_path / "bad.jpg"
    path.write_bytes(reason.encode())
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "enroll", {"config_entry": entry.entry_id, "name": "Bob", "file_path": str(path)}
        )
    _check_error(err, reason, user_error=True)
    assert fake_service.people == {}
    assert fake_service.requests[-2:] == ["GET /api/v1/people", "POST /api/v1/enroll"]


async def test_enroll_older_service(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, allowed_image: Path
) -> None:
    """A service without enroll-by-name says it needs updating instead of failing oddly."""
    fake_service.legacy = True
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass,
            "enroll",
            {"config_entry": entry.entry_id, "name": "Alice", "file_path": str(allowed_image)},
        )
    _check_error(err, "service_too_old", user_error=False)


async def test_enroll_from_camera(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """A camera entity's snapshot is enrolled."""
    with patch(
        "homeassistant.components.camera.async_get_image",
        return_value=Image("image/jpeg", IMAGE),
    ) as get_image:
        await _call(
            hass,
            "enroll",
            {"config_entry": entry.entry_id, "name": "Alice", "camera": "camera.doorbell"},
        )
    get_image.assert_awaited_once_with(hass, "camera.doorbell")
    assert fake_service.faces == [("alice", IMAGE, "home_assistant:camera.doorbell")]


async def test_enroll_camera_failure(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """A camera that cannot give a snapshot is an error of the camera, not of the user."""
    with (
        patch(
            "homeassistant.components.camera.async_get_image",
            side_effect=HomeAssistantError("Camera not found"),
        ),
        pytest.raises(HomeAssistantError) as err,
    ):
        await _call(
            hass, "enroll", {"config_entry": entry.entry_id, "name": "A", "camera": "camera.x"}
        )
    _check_error(err, "camera_failed", user_error=False)


async def test_enroll_from_url(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """An image URL is downloaded and enrolled."""
    await _call(
        hass,
        "enroll",
        {"config_entry": entry.entry_id, "name": "Alice", "url": f"{fake_service.url}/image.jpg"},
    )
    assert fake_service.faces == [("alice", IMAGE, "home_assistant:url")]


async def test_enroll_from_url_large_image(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """An image of several hundred KB that arrives in pieces is read to its end.

    Bug seen in a real instance: only what was buffered was read, so a 141 KB JPEG arrived as
    98 KB and the service called it damaged.
    """
    fake_service.large_image = _photo_jpeg(800, 600)
    assert len(fake_service.large_image) > 300_000
    await _call(
        hass,
        "enroll",
        {"config_entry": entry.entry_id, "name": "Alice", "url": f"{fake_service.url}/large.jpg"},
    )
    assert fake_service.faces == [("alice", fake_service.large_image, "home_assistant:url")]


async def test_download_size_limit(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """A download stops at the size limit, even without a Content-Length to go by."""
    fake_service.large_image = _photo_jpeg(800, 600)
    with (
        patch("custom_components.known_faces.services.MAX_IMAGE_BYTES", 100_000),
        pytest.raises(ServiceValidationError) as err,
    ):
        await _call(
            hass,
            "recognize",
            {"config_entry": entry.entry_id, "url": f"{fake_service.url}/large.jpg"},
            return_response=True,
        )
    _check_error(err, "image_too_large", user_error=True)
    assert fake_service.recognized == []


@pytest.mark.parametrize("path", ["/nope", None])
async def test_download_failure_is_not_the_users(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, path: str | None
) -> None:
    """A download that fails (HTTP error, server gone) is a `HomeAssistantError`.

    Bug seen in a real instance: it was raised as `ServiceValidationError`, the user's fault.
    """
    url = f"{fake_service.url}{path}" if path else "http://127.0.0.1:9/a.jpg"
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "enroll", {"config_entry": entry.entry_id, "name": "A", "url": url})
    _check_error(err, "download_failed", user_error=False)


@pytest.mark.parametrize(
    "sources",
    [{}, {"url": "http://127.0.0.1/a.jpg", "camera": "camera.doorbell"}],
)
async def test_enroll_needs_exactly_one_source(
    hass: HomeAssistant, entry: MockConfigEntry, sources: dict[str, str]
) -> None:
    """None or two image sources is a user mistake."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "enroll", {"config_entry": entry.entry_id, "name": "A", **sources})
    _check_error(err, "one_image_source", user_error=True)


async def test_forget(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """Forget by slug or display name; an unknown person is a translated error."""
    fake_service.add_person("Alice")
    fake_service.add_person("Bob Marley")
    await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "alice"})
    await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "Bob Marley"})
    assert fake_service.people == {}

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "carol"})
    _check_error(err, "unknown_person", user_error=True)
    assert "carol" in str(err.value)


async def test_rename(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """Rename changes the display name; taking another person's name is refused."""
    fake_service.add_person("Alice")
    fake_service.add_person("Bob")
    await _call(
        hass, "rename", {"config_entry": entry.entry_id, "person": "alice", "name": "Alice B."}
    )
    assert fake_service.people["alice"]["name"] == "Alice B."

    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass, "rename", {"config_entry": entry.entry_id, "person": "bob", "name": "Alice B."}
        )
    _check_error(err, "duplicate_name", user_error=True)


async def test_recognize_returns_faces(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService, allowed_image: Path
) -> None:
    """Recognize answers with the service's result as response data."""
    response = await _call(
        hass,
        "recognize",
        {"config_entry": entry.entry_id, "file_path": str(allowed_image)},
        return_response=True,
    )
    assert response["face_count"] == 1
    assert response["faces"][0]["name"] == "Alice"
    assert fake_service.recognized == [{"publish": "false"}]


async def test_recognize_camera_names_the_camera(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """A camera entity's object id is passed on as the camera name."""
    with patch(
        "homeassistant.components.camera.async_get_image", return_value=Image("image/jpeg", IMAGE)
    ):
        await _call(
            hass,
            "recognize",
            {"config_entry": entry.entry_id, "camera": "camera.front_door", "publish": True},
            return_response=True,
        )
    assert fake_service.recognized == [{"publish": "true", "camera": "front_door"}]


async def test_service_down(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """A service that stopped answering is a HomeAssistantError, not a user mistake."""
    await fake_service.stop()
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "alice"})
    _check_error(err, "cannot_connect", user_error=False)


async def test_token_refused_starts_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """A refused token fails the call and asks the user for a new one."""
    fake_service.token = "rotated"
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "alice"})
    _check_error(err, "invalid_auth", user_error=False)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_entry_not_loaded(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Calls naming an unloaded entry are refused with a clear message."""
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget", {"config_entry": entry.entry_id, "person": "alice"})
    _check_error(err, "entry_not_loaded", user_error=True)


async def test_single_entry_need_not_be_named(
    hass: HomeAssistant, entry: MockConfigEntry, fake_service: FakeService
) -> None:
    """With one loaded service, `config_entry` may be left out; with none it must be given."""
    fake_service.add_person("Alice")
    await _call(hass, "forget", {"person": "alice"})
    assert fake_service.people == {}

    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget", {"person": "alice"})
    _check_error(err, "entry_required", user_error=True)


async def test_unknown_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """An entry id that is not a Known Faces entry is refused."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "forget", {"config_entry": "nope", "person": "alice"})
    _check_error(err, "entry_not_found", user_error=True)


@pytest.mark.parametrize(
    ("content", "error", "key"),
    [
        (b"huge", ServiceValidationError, "image_too_large"),
        (b"odd", HomeAssistantError, "request_rejected"),
    ],
)
async def test_other_refusals(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    fake_service: FakeService,
    tmp_path: Path,
    content: bytes,
    error: type[Exception],
    key: str,
) -> None:
    """A 413 is the user's too-large image; an unexpected code is reported with its text."""
    fake_service.add_person("Alice")
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(error) as err:
        await _call(
            hass,
            "enroll",
            {"config_entry": entry.entry_id, "name": "Alice", "file_path": str(path)},
        )
    _check_error(err, key, user_error=error is ServiceValidationError)


async def test_file_checks(hass: HomeAssistant, entry: MockConfigEntry, tmp_path: Path) -> None:
    """A missing file and a file over 20 MiB are refused before anything is sent."""
    hass.config.allowlist_external_dirs = {str(tmp_path)}
    data = {"config_entry": entry.entry_id, "name": "Alice"}
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "enroll", {**data, "file_path": str(tmp_path / "missing.jpg")})
    _check_error(err, "file_not_readable", user_error=True)

    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + b"0" * (20 * 1024 * 1024))
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "enroll", {**data, "file_path": str(big)})
    _check_error(err, "image_too_large", user_error=True)
