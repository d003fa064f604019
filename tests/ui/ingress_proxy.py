"""A stand-in for the Supervisor's ingress proxy (no Supervisor runs here): it serves the add-on
under ``/api/hassio_ingress/<token>/``, strips that prefix, adds ``X-Ingress-Path`` and forwards
to the service, as the Supervisor does. The service must trust this proxy's address (127.0.0.1
in the tests plays 172.30.32.2)."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
from aiohttp import web

from tests.service.helpers import free_port, wait_until

INGRESS_PATH = "/api/hassio_ingress/Zq3xY_test-token"
HOP_HEADERS = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class IngressProxy:
    """The proxy on a free port, in its own thread and event loop."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.upstream = f"http://127.0.0.1:{upstream_port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def base(self) -> str:
        """The panel's URL as a browser sees it."""
        return f"http://127.0.0.1:{self.port}{INGRESS_PATH}/"

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        rest = request.match_info["rest"]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers["X-Ingress-Path"] = INGRESS_PATH
        async with aiohttp.ClientSession(auto_decompress=False) as session, session.request(
                request.method, f"{self.upstream}/{rest}", params=request.query,
                headers=headers, data=await request.read(), allow_redirects=False) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(status=answer.status, body=body, headers=kept)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", INGRESS_PATH + "/{rest:.*}", self._forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> IngressProxy:
        """Serve until ``stop``."""
        self._thread.start()
        wait_until(lambda: self._stop is not None, 10)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
