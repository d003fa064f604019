"""Browser tests of the web UI: Debian's Chromium driven by Playwright, against the real service
(real engine, broker, SQLite and photos) from the service tests' fixtures.

Screenshots of every page go to ``$KNOWN_FACES_ARTEFACTS`` (default ``tests/artefacts/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.service.conftest import broker, engine, listen, start_service  # noqa: F401
from tests.service.helpers import REPO, ServiceRunner

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, headless, with nothing that reaches the network by itself.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


def artefacts_dir() -> Path:
    """Where screenshots are kept (made on first use)."""
    path = Path(os.environ.get("KNOWN_FACES_ARTEFACTS", REPO / "tests" / "artefacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the session (each test gets its own context)."""
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (scripts/test installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Ui:
    """A browser page on one service, with what its console reported."""

    page: Page
    base: str
    errors: list[str] = field(default_factory=list)

    def go(self, path: str = "") -> Page:
        """Load a page relative to the UI's root and wait until it is idle."""
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def screenshot(self, name: str) -> Path:
        """A full-page screenshot kept as a test artefact."""
        path = artefacts_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def login(self, token: str) -> None:
        """The standalone sign-in: the token, once."""
        self.go("login")
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state("networkidle")


@pytest.fixture
def open_ui(browser: Browser) -> Iterator[Callable[..., Ui]]:
    """Open the UI of a service (or at any base URL, e.g. behind a proxy), in a fresh context
    whose console errors and uncaught exceptions are collected; dialogs are accepted."""
    contexts = []

    def make(target: ServiceRunner | str, *, width: int = 1280, dark: bool = False) -> Ui:
        base = (target if isinstance(target, str)
                else f"http://127.0.0.1:{target.service.http_port}/")
        context = browser.new_context(viewport={"width": width, "height": 900},
                                      color_scheme="dark" if dark else "light")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        ui = Ui(page, base)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                ui.errors.append(f"{message.text} ({message.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: ui.errors.append(f"uncaught: {error}"))
        page.on("dialog", lambda dialog: dialog.accept())
        return ui

    yield make
    for context in contexts:
        context.close()
