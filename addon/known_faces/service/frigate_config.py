"""The Frigate options (DESIGN §10): where Frigate is, which of its events to follow, how hard.

The options are flat (``frigate_url``, ``frigate_attempts``, …) like the ``mqtt_*`` ones, so
the add-on's option form, a config file and ``KNOWN_FACES_FRIGATE_<OPTION>`` environment
variables all spell them the same way; ``service/config.py`` adds them to its one schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from ..sources.cameras import CAMERA_RE
from .supervisor import Supervisor

# Shared with config.yaml's ``match(...)``: the Supervisor refuses what the service refuses.
URL_RE = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
# Frigate's labels and zone names are config keys: letters, digits, ``_`` and ``-``.
NAME_RE = CAMERA_RE

LIST_OPTIONS = ("frigate_cameras", "frigate_labels", "frigate_zones")


def frigate_options(prefix_re: str) -> dict[vol.Marker, Any]:
    """The voluptuous entries of the Frigate options; ``prefix_re`` is the topic-prefix rule
    every prefix option shares."""
    name = vol.All(vol.Coerce(str), vol.Match(NAME_RE))
    return {
        vol.Optional("frigate_events", default=True): vol.Boolean(),
        vol.Optional("frigate_url"): vol.All(vol.Coerce(str), vol.Match(URL_RE)),
        vol.Optional("frigate_user"): vol.Coerce(str),
        vol.Optional("frigate_password"): vol.Coerce(str),
        vol.Optional("frigate_topic_prefix", default="frigate"): vol.All(
            vol.Coerce(str), vol.Match(prefix_re)),
        vol.Optional("frigate_cameras", default=list): [name],
        vol.Optional("frigate_labels", default=lambda: ["person"]): [name],
        vol.Optional("frigate_zones", default=list): [name],
        vol.Optional("frigate_attempts", default=5): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=20)),
        vol.Optional("frigate_interval_s", default=1.0): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=60)),
        vol.Optional("frigate_stop_on_match", default=True): vol.Boolean(),
        vol.Optional("frigate_sub_label", default=True): vol.Boolean(),
        vol.Optional("frigate_sub_label_unknown", default=False): vol.Boolean(),
        vol.Optional("double_take", default=False): vol.Boolean(),
    }


@dataclass(frozen=True, slots=True)
class FrigateSettings:
    """How the service follows Frigate.

    ``url`` None means "not configured": under the Supervisor the Frigate add-on is looked
    for; standalone, events are not followed. Empty ``cameras`` means every camera, empty
    ``zones`` every zone (a zone filter admits an event once it is in one of the zones).
    """

    events: bool
    url: str | None
    user: str | None
    password: str | None
    topic_prefix: str
    cameras: frozenset[str]
    labels: frozenset[str]
    zones: frozenset[str]
    attempts: int
    interval_s: float
    stop_on_match: bool
    sub_label: bool
    sub_label_unknown: bool
    double_take: bool

    @classmethod
    def from_options(cls, data: dict[str, Any]) -> FrigateSettings:
        """From the validated option mapping."""
        return cls(
            events=data["frigate_events"],
            url=(data.get("frigate_url") or "").rstrip("/") or None,
            user=data.get("frigate_user") or None,
            password=data.get("frigate_password") or None,
            topic_prefix=data["frigate_topic_prefix"],
            cameras=frozenset(data["frigate_cameras"]),
            labels=frozenset(data["frigate_labels"]),
            zones=frozenset(data["frigate_zones"]),
            attempts=data["frigate_attempts"],
            interval_s=data["frigate_interval_s"],
            stop_on_match=data["frigate_stop_on_match"],
            sub_label=data["frigate_sub_label"],
            sub_label_unknown=data["frigate_sub_label_unknown"],
            double_take=data["double_take"],
        )


async def frigate_url(settings: FrigateSettings, supervisor: Supervisor | None) -> str | None:
    """Where Frigate's API is: the configured URL, else the Frigate add-on's (Supervisor),
    else None, and events are not followed."""
    if not settings.events:
        return None
    if settings.url is not None or supervisor is None:
        return settings.url
    return await supervisor.frigate_url()
