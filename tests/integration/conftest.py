"""Fixtures for the Home Assistant integration tests (pytest-homeassistant-custom-component)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from homeassistant.const import CONF_TOKEN, CONF_URL, MAJOR_VERSION, MINOR_VERSION
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from custom_components.known_faces.const import DOMAIN

from . import HEALTH, PEOPLE, URL
from .fake_service import INSTANCE_ID, TOKEN, FakeService


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components/known_faces."""


@pytest.fixture
def expected_lingering_timers() -> bool:
    """HA 2025.4's MQTT client leaves its periodic timer behind; newer releases are checked."""
    return (MAJOR_VERSION, MINOR_VERSION) < (2025, 5)


class SnapshotExtension(HomeAssistantSnapshotExtension):
    """Home Assistant's serialiser, with the snapshot folder of the newer releases everywhere.

    HA 2025.4's harness keeps them in `__snapshots__`, later ones in `snapshots`: one folder
    serves both supported releases.
    """

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        """`snapshots` beside the test file."""
        return str(Path(test_location.filepath).parent / "snapshots")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """The snapshot fixture with the extension above."""
    return snapshot.use_extension(SnapshotExtension)


@pytest.fixture
def mock_client() -> Generator[AsyncMock]:
    """A client double, patched where the integration and the config flow create theirs."""
    with (
        patch("custom_components.known_faces.KnownFacesClient", autospec=True) as cls,
        patch("custom_components.known_faces.config_flow.KnownFacesClient", new=cls),
    ):
        client = cls.return_value
        client.url = URL
        client.health.return_value = dict(HEALTH)
        client.people.return_value = [dict(p) for p in PEOPLE]
        yield client


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """An entry for the service at URL."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Known Faces",
        unique_id=INSTANCE_ID,
        data={CONF_URL: URL, CONF_TOKEN: TOKEN},
    )


@pytest.fixture
async def init_integration(
    hass: HomeAssistant, mqtt_mock: Any, mock_client: AsyncMock, mock_config_entry: MockConfigEntry
) -> MockConfigEntry:
    """The integration set up on mocked MQTT with the client double."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


@pytest.fixture
async def fake_service(socket_enabled: None) -> AsyncGenerator[FakeService]:
    """The in-test HTTP stand-in for the service, on a free port."""
    service = FakeService()
    await service.start()
    yield service
    await service.stop()
