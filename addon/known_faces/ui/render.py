"""Templates to HTML answers, with what every page shares: its relative root, the CSRF token,
the navigation and the security headers.

Jinja2 escapes every value by default, so a person's name is text on every page whatever it
holds; the Content-Security-Policy lets pages load only their own files (no inline script,
no other origin), which a stray injection could not get around either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from .. import __version__
from ..service.access import SESSION_COOKIE, Access
from .paths import root_of

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
NAV = (("", "People"), ("visitors", "Visitors"), ("events", "Events"), ("search", "Search"),
       ("cameras", "Cameras"), ("calibration", "Calibration"), ("health", "Health"))
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "object-src 'none'; base-uri 'self'; form-action 'self'; "
                               "frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True,
                                 lstrip_blocks=True)


def render_text(template: str, **context: Any) -> str:
    """A template (or fragment) as text."""
    return ENVIRONMENT.get_template(template).render(**context)


def page(request: web.Request, access: Access, template: str, *, active: str,
         title: str, status: int = 200, **context: Any) -> web.Response:
    """A whole page: ``active`` is its navigation entry (``""`` for People)."""
    html = render_text(template, root=root_of(request.path), csrf=access.csrf_token(request),
                       nav=NAV, active=active, signed_in=SESSION_COOKIE in request.cookies,
                        title=title, version=__version__, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=HEADERS)
