"""What the web UI needs from the service: the HTTP API's view plus what only pages show."""

from __future__ import annotations

from typing import Protocol

from ..pipeline.engine import Engine
from ..recognizer import Recognizer
from ..service.api_backend import ApiBackend
from ..service.config import Settings
from ..service.recent import RecentEvents


class UiBackend(ApiBackend, Protocol):
    """The service as the web UI sees it."""

    settings: Settings
    engine: Engine
    recognizer: Recognizer
    recent: RecentEvents
