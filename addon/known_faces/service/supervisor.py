"""The Home Assistant Supervisor API, used only when running as an add-on.

Two calls matter: the MQTT broker's credentials (``GET /services/mqtt``), so users of the
Mosquitto add-on configure nothing, and a discovery message (``POST /discovery``) carrying
host, port and token, so the integration sets itself up.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import aiohttp

from .mqtt_link import BrokerSettings

LOG = logging.getLogger(__name__)

SUPERVISOR_URL = "http://supervisor"
DISCOVERY_SERVICE = "known_faces"
TIMEOUT = aiohttp.ClientTimeout(total=10)
# The add-ons of github.com/blakeblackshear/frigate-hass-addons (repository hash ccab4aaf).
FRIGATE_ADDON_SLUGS = ("ccab4aaf_frigate", "ccab4aaf_frigate-fa", "ccab4aaf_frigate-beta",
                       "ccab4aaf_frigate-fa-beta")
FRIGATE_INTERNAL_PORT = 5000


class SupervisorError(Exception):
    """The Supervisor answered with an error or could not be reached."""


class Supervisor:
    """A thin client; ``base_url`` is only changed by tests (a fake Supervisor)."""

    def __init__(self, token: str, base_url: str = SUPERVISOR_URL) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")

    @classmethod
    def from_environment(cls) -> Supervisor | None:
        """A client when ``SUPERVISOR_TOKEN`` is set (we run as an add-on), else None."""
        token = os.environ.get("SUPERVISOR_TOKEN")
        return cls(token) if token else None

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as session,
                session.request(method, self.base_url + path, json=json, headers=headers) as resp,
            ):
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise SupervisorError(f"{method} {path}: {err}") from err
        if resp.status >= 400 or not isinstance(body, dict) or body.get("result") != "ok":
            message = body.get("message") if isinstance(body, dict) else None
            raise SupervisorError(f"{method} {path}: HTTP {resp.status} {message or ''}".strip())
        return body.get("data", {})

    async def mqtt_broker(self) -> BrokerSettings:
        """The broker the Supervisor provides (the Mosquitto add-on)."""
        data = await self._call("GET", "/services/mqtt")
        return BrokerSettings(
            host=str(data["host"]),
            port=int(data["port"]),
            username=data.get("username") or None,
            password=data.get("password") or None,
            tls=bool(data.get("ssl", False)),
        )

    async def hostname(self) -> str:
        """The add-on's hostname on the Supervisor network, as Home Assistant reaches it."""
        try:
            data = await self._call("GET", "/addons/self/info")
            return str(data["hostname"])
        except (SupervisorError, KeyError):
            return socket.gethostname()

    async def discover(self, host: str, port: int, token: str, topic_prefix: str) -> str:
        """Announce the service to Home Assistant; returns the discovery uuid. The topic prefix
        goes along so the integration never needs it typed in a second time."""
        config = {"host": host, "port": port, "token": token, "topic_prefix": topic_prefix}
        data = await self._call("POST", "/discovery", {"service": DISCOVERY_SERVICE,
                                                       "config": config})
        return str(data.get("uuid", ""))

    async def frigate_url(self) -> str | None:
        """The Frigate add-on's API on its internal port 5000 (no login there), or None.

        The Supervisor lets an add-on read ``/addons/<slug>/info`` of others, not list them,
        so the slugs the Frigate add-on repository publishes are asked in turn; the first one
        that is started wins.
        """
        for slug in FRIGATE_ADDON_SLUGS:
            try:
                data = await self._call("GET", f"/addons/{slug}/info")
            except SupervisorError:
                continue
            if data.get("state") == "started" and data.get("hostname"):
                return f"http://{data['hostname']}:{FRIGATE_INTERNAL_PORT}"
        return None
