"""HTTP client for the Known Faces service (`/api/v1`, see addon/DOCS.md).

Deliberately free of Home Assistant imports so it can be tested against a bare aiohttp server;
the session is injected so Home Assistant's shared session is reused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp

API_PREFIX = "/api/v1"
SERVICE_NAME = "known_faces"
_TIMEOUT = aiohttp.ClientTimeout(total=30)


class KnownFacesError(Exception):
    """Base of every error this client raises."""


class CannotConnect(KnownFacesError):
    """The service could not be reached, timed out or answered with a server error."""


class InvalidAuth(KnownFacesError):
    """The service refused the token."""


class NotKnownFaces(KnownFacesError):
    """Something answered at the URL, but it is not a Known Faces service."""


class ServiceTooOld(KnownFacesError):
    """The service lacks an operation this integration needs; it needs updating."""


class RequestRejected(KnownFacesError):
    """The service refused a request with a 4xx and an error code (`no_face`, ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        """Keep the service's code: callers map it to a translated message."""
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class KnownFacesClient:
    """Talks to one Known Faces service."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        """Keep the session, the base URL (without the API prefix) and the bearer token."""
        self._session = session
        self.url = url.rstrip("/")
        self._token = token

    async def health(self) -> dict[str, Any]:
        """Return `/health`, checking that the answer comes from a Known Faces service."""
        try:
            data = await self._request("GET", "/health", auth=False)
        except (InvalidAuth, RequestRejected) as err:
            raise NotKnownFaces(str(err)) from err
        if not isinstance(data, dict) or data.get("service") != SERVICE_NAME:
            raise NotKnownFaces(f"{self.url} does not look like a Known Faces service")
        if not data.get("instance_id"):
            raise NotKnownFaces("the service did not report an instance_id")
        return data

    async def people(self) -> list[dict[str, Any]]:
        """Return the enrolled people (`person`, `name`, `face_count`, `created`)."""
        data = await self._request("GET", "/people")
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            raise NotKnownFaces("GET /people: unexpected answer")
        people: list[dict[str, Any]] = data["people"]
        return people

    async def enroll(
        self,
        name: str,
        image: bytes | None,
        source: str,
        *,
        force: bool = False,
        stream_camera: str | None = None,
    ) -> dict[str, Any]:
        """Add a face to the person of that name, creating them only if the face is accepted.

        One request, so a refused face never leaves a person behind (`POST /enroll`). Without
        an image, the face in view of the service's stream camera `stream_camera`. `force`
        takes a photo unlike the person's others (answered with a `warning`). The answer has
        `face`, `person`, `created` and maybe `warning`.
        """
        params = {"name": name, "source": source}
        if force:
            params["force"] = "true"
        if stream_camera is not None:
            params["camera"] = stream_camera
        try:
            result: dict[str, Any] = await self._request(
                "POST", "/enroll", params=params, data=image if image is not None else b""
            )
        except RequestRejected as err:
            if err.status == 404 and err.code == "not_found":
                raise ServiceTooOld("POST /enroll: the service predates enroll-by-name") from err
            raise
        return result

    async def rename_person(self, slug: str, name: str) -> dict[str, Any]:
        """Change a person's display name; the slug stays."""
        person: dict[str, Any] = await self._request(
            "PATCH", f"/people/{slug}", json={"name": name}
        )
        return person

    async def delete_person(self, slug: str) -> None:
        """Delete a person with their crops and embeddings."""
        await self._request("DELETE", f"/people/{slug}")

    async def forget_camera(self, camera: str) -> None:
        """Clear a camera's retained state and crop on the broker (the service publishes the
        empty payloads), so its device does not come back at the next restart."""
        await self._request("DELETE", f"/cameras/{camera}")

    async def add_face(
        self, slug: str, image: bytes, source: str, *, force: bool = False
    ) -> dict[str, Any]:
        """Enroll one face image for a person (quality-gated by the service; `force` takes a
        photo unlike the person's others)."""
        params = {"source": source, **({"force": "true"} if force else {})}
        result: dict[str, Any] = await self._request(
            "POST", f"/people/{slug}/faces", params=params, data=image
        )
        return result

    async def recognize(
        self, image: bytes, camera: str | None = None, publish: bool = False
    ) -> dict[str, Any]:
        """Recognise the faces in one image."""
        params = {"publish": "true" if publish else "false"}
        if camera:
            params["camera"] = camera
        result: dict[str, Any] = await self._request(
            "POST", "/recognize", params=params, data=image
        )
        return result

    async def visitor_crop(self, visitor: str) -> bytes:
        """The JPEG of a visitor's best face crop."""
        crop: bytes = await self._request(
            "GET", f"/visitors/{quote(visitor, safe='')}/crop", raw=True
        )
        return crop

    async def assign_visitor(
        self, visitor: str, *, person: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """Make a visitor an existing person (slug) or a new one (name)."""
        body: dict[str, str | None] = {"person": person} if person is not None else {"name": name}
        result: dict[str, Any] = await self._request(
            "POST", f"/visitors/{quote(visitor, safe='')}/assign", json=body
        )
        return result

    async def ignore_visitor(self, visitor: str, ignored: bool = True) -> dict[str, Any]:
        """Ignore a visitor (its faces become `ignored`), or stop ignoring it."""
        result: dict[str, Any] = await self._request(
            "POST" if ignored else "DELETE", f"/visitors/{quote(visitor, safe='')}/ignore"
        )
        return result

    async def forget_visitor(self, visitor: str) -> None:
        """Delete a visitor with its crops and vectors."""
        await self._request("DELETE", f"/visitors/{quote(visitor, safe='')}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        params: dict[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request and map the outcome onto this module's errors; with `raw` a
        successful answer is returned as its bytes (an image)."""
        headers = {"Authorization": f"Bearer {self._token}"} if auth else {}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            async with self._session.request(
                method,
                f"{self.url}{API_PREFIX}{path}",
                headers=headers,
                params=params,
                json=json,
                data=data,
                timeout=_TIMEOUT,
            ) as resp:
                if resp.status in (401, 403):
                    raise InvalidAuth(f"{method} {path}: HTTP {resp.status}")
                if resp.status >= 500:
                    raise CannotConnect(f"{method} {path}: HTTP {resp.status}")
                if resp.status == 204:
                    return None
                if raw and resp.status < 300:
                    return await resp.read()
                try:
                    body = await resp.json(content_type=None)
                except ValueError as err:
                    raise NotKnownFaces(f"{method} {path}: the answer is not JSON") from err
                if resp.status >= 400:
                    if not isinstance(body, dict) or "error" not in body:
                        raise NotKnownFaces(f"{method} {path}: HTTP {resp.status}")
                    raise RequestRejected(
                        resp.status, str(body["error"]), str(body.get("message", ""))
                    )
                return body
        except (aiohttp.ClientError, TimeoutError) as err:
            raise CannotConnect(f"{method} {path}: {err}") from err
