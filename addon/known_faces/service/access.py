"""Who may call the service, and how they prove it (DESIGN §6, §12).

Three ways in, one decision for the API and the web UI alike:

* **token**: ``Authorization: Bearer <token>`` (the integration, scripts). A browser never sends
  that header by itself, so such a request cannot be forged cross-site and needs nothing more.
* **ingress**: the Supervisor's ingress proxy (172.30.32.2) has authenticated the Home Assistant
  user already. Only a trusted peer may send ``X-Ingress-Path``: the same header from anybody
  else is refused outright, so nobody can pose as the proxy.
* **session**: a standalone browser that gave the token once on the login page holds an
  HttpOnly ``SameSite=Strict`` cookie, signed with the token (so rotating the token ends every
  session, and a restart does not).

A browser sends ingress and session credentials by itself, so every state-changing request that
relies on them must also carry ``X-CSRF-Token`` (a value derived from the token and the session,
rendered into each page): a cross-site page can neither read it nor set the header without a
CORS preflight, which is never granted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from enum import StrEnum

from aiohttp import web

SESSION_COOKIE = "known_faces_session"
CSRF_HEADER = "X-CSRF-Token"
INGRESS_HEADER = "X-Ingress-Path"
SESSION_SECONDS = 30 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Via(StrEnum):
    """How a request proved who it is."""

    TOKEN = "token"
    INGRESS = "ingress"
    SESSION = "session"


class Denied(Exception):
    """A request refused with its status, stable code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bytes(text: str) -> bytes:
    """Header text as bytes; bytes that were not UTF-8 arrive as lone surrogates and become
    '?', which no secret holds, instead of a UnicodeEncodeError."""
    return text.encode("utf-8", "replace")


class Access:
    """The service's token and trusted peers, and every check made with them."""

    def __init__(self, token: str, trusted_peers: frozenset[str]) -> None:
        self._token = token
        self._trusted = trusted_peers

    def _sign(self, purpose: str) -> str:
        digest = hmac.new(self._token.encode(), purpose.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token_matches(self, candidate: str) -> bool:
        """Whether ``candidate`` is the API token (constant time)."""
        return hmac.compare_digest(_bytes(candidate.strip()), self._token.encode())

    # -- sessions ----------------------------------------------------------------------------
    def new_session(self, now: float | None = None) -> str:
        """A session cookie value: when it was issued, and the token's signature of that."""
        issued = str(int(time.time() if now is None else now))
        return f"{issued}.{self._sign('session.' + issued)}"

    def session_valid(self, value: str, now: float | None = None) -> bool:
        """Signed with this token and issued within ``SESSION_SECONDS``."""
        issued, _, signature = value.partition(".")
        if not issued.isascii() or not issued.isdigit() or len(issued) > 12:
            return False
        age = (time.time() if now is None else now) - int(issued)
        return 0 <= age <= SESSION_SECONDS and hmac.compare_digest(
            _bytes(signature), self._sign("session." + issued).encode())

    @staticmethod
    def set_session(response: web.StreamResponse, value: str, *, secure: bool) -> None:
        """The cookie a browser keeps after logging in: never readable by scripts, never sent
        by another site's requests."""
        response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_SECONDS, path="/",
                            httponly=True, samesite="Strict", secure=secure)

    @staticmethod
    def clear_session(response: web.StreamResponse) -> None:
        """Log out."""
        response.del_cookie(SESSION_COOKIE, path="/")

    # -- requests ----------------------------------------------------------------------------
    def via(self, request: web.Request) -> Via | None:
        """How ``request`` is authorised, or None; Denied when it claims to come through the
        ingress proxy from an address that is not the proxy's."""
        trusted = request.remote in self._trusted
        if INGRESS_HEADER in request.headers and not trusted:
            raise Denied(403, "untrusted_proxy",
                         "ingress requests are accepted only from the Supervisor's proxy")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(token):
            return Via.TOKEN
        if trusted:
            return Via.INGRESS
        if self.session_valid(request.cookies.get(SESSION_COOKIE, "")):
            return Via.SESSION
        return None

    def csrf_token(self, request: web.Request) -> str:
        """The value state-changing requests of this browser must send in ``X-CSRF-Token``."""
        if request.remote in self._trusted:
            return self._sign("csrf.ingress")
        return self._sign("csrf." + request.cookies.get(SESSION_COOKIE, ""))

    def check(self, request: web.Request, via: Via) -> None:
        """Denied (403) for a state-changing request on browser credentials without the
        page's CSRF token."""
        if via is Via.TOKEN or request.method in SAFE_METHODS:
            return
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(_bytes(sent), self.csrf_token(request).encode()):
            raise Denied(403, "csrf_failed",
                         f"this request needs the page's {CSRF_HEADER} header")
