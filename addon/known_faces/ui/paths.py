"""Where the web UI lives in the URL space, and how its pages reach each other.

Every URL a page holds is relative to ``root_of(path)`` (its ``<base href>``), never absolute:
behind the Supervisor's ingress proxy the browser sees ``/api/hassio_ingress/<token>/people``
while the service sees ``/people``, and relative URLs are right in both places.
"""

from __future__ import annotations

API_PREFIX = "/api/"
STATIC_PREFIX = "/static/"
LOGIN = "login"
PUBLIC_PAGES = frozenset({"/" + LOGIN})


def is_page(path: str) -> bool:
    """A web UI path (not the JSON API)."""
    return not path.startswith(API_PREFIX)


def is_public(path: str) -> bool:
    """Paths anybody may load: the login page and the static files it needs."""
    return path in PUBLIC_PAGES or path.startswith(STATIC_PREFIX)


def root_of(path: str) -> str:
    """The relative URL of the UI's root from ``path``: ``./`` from ``/people``,
    ``../`` from ``/people/ann``."""
    depth = max(path.count("/") - 1, 0)
    return "../" * depth or "./"


def login_location(path: str) -> str:
    """Where a browser without a session is sent from ``path`` (relative)."""
    return root_of(path) + LOGIN
