"""``GET /cameras/{camera}/live.mjpg``: a stream camera's frames with its tracks drawn, as MJPEG.

Motion JPEG over ``multipart/x-mixed-replace`` is what a browser's ``<img>`` and Home
Assistant's MJPEG camera show without any player, like the seeds' on-device display. A part is
sent whenever the camera has a new frame (its sampled rate, so a viewer costs one JPEG encode
per frame and no recognition); the response ends when the client goes or the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from ..errors import UnknownCamera
from ..sources.cameras import valid_camera
from .api_backend import ApiBackend
from .routes import LIVE_BOUNDARY as BOUNDARY

POLL_S = 0.1


def stream_camera(camera: str, service: ApiBackend) -> str:
    """``camera``, if it is a stream camera (UnknownCamera, a 404, otherwise)."""
    if not valid_camera(camera) or not service.is_stream_camera(camera):
        raise UnknownCamera("no stream camera of this name")
    return camera


async def live_mjpeg(request: web.Request, service: ApiBackend,
                     closing: asyncio.Event) -> web.StreamResponse:
    """Stream the camera's annotated frames until the client leaves or ``closing`` is set."""
    camera = stream_camera(request.match_info["camera"], service)
    response = web.StreamResponse(headers={
        "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        "Cache-Control": "no-store"})
    await response.prepare(request)
    sent: bytes | None = None
    while not closing.is_set():
        jpeg = await asyncio.to_thread(service.stream_frame, camera, annotated=True)
        if jpeg is not None and jpeg is not sent:
            head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n").encode()
            try:
                await response.write(head + jpeg + b"\r\n")
            except (ConnectionResetError, RuntimeError):
                break
            sent = jpeg
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), POLL_S)
    return response
