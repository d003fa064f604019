"""What the HTTP API needs from the service, and nothing more.

The handlers depend on this Protocol rather than on ``Service``, so the HTTP layer can be read
(and tested) without the wiring behind it, and new inputs added to the service never leak into
the API by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..recognizer import Enrollment
from ..store.gallery import Gallery
from ..store.visitors import Visitors
from .metrics import Metrics

T = TypeVar("T")


class ApiBackend(Protocol):
    """The service as the HTTP API sees it."""

    version: str
    token: str
    trusted_peers: frozenset[str]
    metrics: Metrics

    def health(self) -> dict[str, Any]:
        """The ``/health`` answer."""

    async def recognize(self, image: bytes, *, camera: str, source: str,
                        publish: bool) -> dict[str, Any]:
        """Recognise through the bounded intake; the ``/recognize`` answer."""

    async def gallery_call(self, call: Callable[[Gallery], T], *, changes: bool = False) -> T:
        """Run a gallery call off the event loop."""

    async def enroll(self, slug: str, image: bytes, *, source: str,
                     force: bool = False) -> Enrollment:
        """Quality-gated enrollment of an existing person."""

    async def enroll_by_name(self, name: str, image: bytes, *, source: str,
                             force: bool = False) -> Enrollment:
        """Atomic enroll-by-name."""

    def forget_camera(self, camera: str) -> None:
        """Clear a camera's retained state and crop."""

    async def export_archive(self) -> bytes:
        """The gallery as zip bytes."""

    async def import_archive(self, path: Path, mode: str) -> tuple[int, int]:
        """Merge or replace from an archive."""

    def is_stream_camera(self, camera: str) -> bool:
        """Whether ``camera`` is configured with a stream."""

    def stream_frame(self, camera: str, *, annotated: bool) -> bytes | None:
        """A stream camera's newest frame as JPEG, with its tracks drawn if ``annotated``;
        None before its first frame."""
    async def visitor_call(self, call: Callable[[Visitors], T], *, changes: bool = False) -> T:
        """Run a visitor store call off the event loop; ``changes`` republishes the summary."""

    async def assign_visitor(self, visitor: str, *, person: str | None,
                             name: str | None) -> dict[str, Any]:
        """Assign a visitor to a person (the ``assign`` answer)."""

    async def search(self, image: bytes, threshold: float | None) -> dict[str, Any]:
        """Search by face (the ``/search`` answer); None means ``visitor_threshold``."""
