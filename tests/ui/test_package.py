"""The web UI's templates and static files ship in the package (no CDN, nothing fetched at run
time): every one of them is matched by the package-data patterns, and no page names a URL of
another origin."""

from __future__ import annotations

import fnmatch
import re
import tomllib

from known_faces.ui.render import STATIC, TEMPLATES
from tests.service.helpers import REPO

PACKAGE = REPO / "addon" / "known_faces"


def test_every_asset_is_package_data() -> None:
    pyproject = tomllib.loads((REPO / "addon" / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["known_faces"]
    assets = [p for folder in (TEMPLATES, STATIC) for p in folder.rglob("*") if p.is_file()]
    assert len(assets) > 10
    unshipped = [str(p.relative_to(PACKAGE)) for p in assets
                 if not any(fnmatch.fnmatch(str(p.relative_to(PACKAGE)), g) for g in patterns)]
    assert unshipped == []


def test_no_asset_loads_anything_from_elsewhere() -> None:
    remote = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", re.IGNORECASE)
    for path in [*TEMPLATES.glob("*.html"), *STATIC.glob("*")]:
        text = path.read_text("utf-8")
        assert remote.search(text) is None, path
        assert 'href="/' not in text, path  # relative URLs only (ingress)
        assert 'src="/' not in text, path
