"""The HTTP client against the in-test service and against things that are not the service."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from custom_components.known_faces.api import (
    CannotConnect,
    InvalidAuth,
    KnownFacesClient,
    NotKnownFaces,
    RequestRejected,
    ServiceTooOld,
)

from .fake_service import IMAGE, INSTANCE_ID, TOKEN, FakeService


async def _serve(handler: web.RequestHandler) -> tuple[web.AppRunner, str]:
    """Serve one handler for every path on a free port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


async def test_round_trip(fake_service: FakeService) -> None:
    """Every call the integration makes, against the documented routes."""
    async with aiohttp.ClientSession() as session:
        client = KnownFacesClient(session, fake_service.url + "/", TOKEN)
        assert (await client.health())["instance_id"] == INSTANCE_ID
        assert await client.people() == []
        result = await client.enroll("Alice", IMAGE, "test")
        assert (result["person"]["person"], result["created"]) == ("alice", True)
        assert (await client.enroll("ALICE", IMAGE, "test"))["created"] is False
        result = await client.add_face("alice", IMAGE, "test")
        assert result["person"]["face_count"] == 3
        assert (await client.rename_person("alice", "Alice B."))["name"] == "Alice B."
        assert (await client.recognize(IMAGE, camera="door"))["faces"][0]["person"] == "alice"
        assert fake_service.recognized == [{"publish": "false", "camera": "door"}]
        assert await client.delete_person("alice") is None
        assert fake_service.people == {}


async def test_errors(fake_service: FakeService) -> None:
    """Bad token, refusals with a code, and a service that is gone."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidAuth):
            await KnownFacesClient(session, fake_service.url, "wrong").people()
        client = KnownFacesClient(session, fake_service.url, TOKEN)
        with pytest.raises(RequestRejected) as err:
            await client.enroll("  ", IMAGE, "test")
        assert (err.value.status, err.value.code) == (400, "invalid_name")
        with pytest.raises(RequestRejected) as err:
            await client.enroll("Bob", b"several_faces", "test")
        assert (err.value.status, err.value.code) == (422, "several_faces")
        assert fake_service.people == {}
        fake_service.legacy = True
        with pytest.raises(ServiceTooOld):
            await client.enroll("Bob", IMAGE, "test")
        await fake_service.stop()
        with pytest.raises(CannotConnect):
            await client.health()


async def test_not_known_faces(socket_enabled: None) -> None:
    """A web server that is not the service is told apart from an unreachable one."""

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>router</html>", content_type="text/html")

    async def other_json(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": "frigate"})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=502)

    async with aiohttp.ClientSession() as session:
        for handler, error in (
            (html, NotKnownFaces),
            (other_json, NotKnownFaces),
            (broken, CannotConnect),
        ):
            runner, url = await _serve(handler)
            try:
                with pytest.raises(error):
                    await KnownFacesClient(session, url, TOKEN).health()
            finally:
                await runner.cleanup()


async def test_unexpected_answers(socket_enabled: None) -> None:
    """Answers that break the contract are reported as `NotKnownFaces`, not crashes."""

    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/health"):
            return web.json_response({"service": "known_faces"})  # no instance_id
        if request.path.endswith("/people") and request.method == "GET":
            return web.json_response({"persons": []})
        return web.Response(status=404, text="not found")

    runner, url = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as session:
            client = KnownFacesClient(session, url, TOKEN)
            with pytest.raises(NotKnownFaces):
                await client.health()
            with pytest.raises(NotKnownFaces):
                await client.people()
            with pytest.raises(NotKnownFaces):
                await client.delete_person("alice")
    finally:
        await runner.cleanup()
