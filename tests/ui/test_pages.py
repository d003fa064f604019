"""Every page of the web UI in a real browser, on a service with real people and a recognised
snapshot: each renders with no console error, light and dark, wide and phone-sized, and is kept
as a screenshot; the calibration page draws its charts from the gallery's own scores; the
keyboard reaches every link and form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from known_faces.ui.render import NAV
from tests.service.helpers import ServiceRunner, enroll

from .conftest import Ui
from .test_people import OBAMA_2

PAGES = (("", "People"), ("people/barack_obama", "Barack Obama"), ("visitors", "Visitors"),
         ("events", "Events"), ("search", "Search"), ("cameras", "Cameras"),
         ("calibration", "Calibration"), ("health", "Health"))
PHONE_WIDTH = 390


def seeded(start_service: Callable[..., ServiceRunner], manifest: dict[str, Any],
           photo: Callable[[str], bytes]) -> ServiceRunner:
    """A service with four people of two or three photos each and one published snapshot."""
    runner = start_service()
    for slug in ("barack_obama", "joe_biden", "kit_harington", "alex_lacamoire"):
        enroll(runner, slug.replace("_", " ").title(), *map(photo, manifest["people"][slug]))
    answer = runner.http("POST", "/recognize?camera=porch&publish=true", photo(OBAMA_2))
    assert answer.json()["faces"][0]["person"] == "barack_obama"
    return runner


def test_every_page_renders_without_console_errors(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        faces_manifest: dict[str, Any], photo: Callable[[str], bytes]) -> None:
    runner = seeded(start_service, faces_manifest, photo)
    for dark in (False, True):
        for width in (1280, PHONE_WIDTH):
            ui = open_ui(runner, width=width, dark=dark)
            ui.login(runner.service.token)
            for path, title in PAGES:
                ui.go(path)
                expect(ui.page.get_by_role("heading", name=title, level=1)).to_be_visible()
                # Nothing wider than the screen: usable on a phone without sideways scrolling.
                assert ui.page.evaluate("document.documentElement.scrollWidth") <= width
                name = (path.replace("/", "-") or "people")
                ui.screenshot(f"page-{name}{'-dark' if dark else ''}"
                              f"{'-phone' if width == PHONE_WIDTH else ''}")
            assert ui.errors == [], (dark, width, ui.errors)


def test_images_have_alt_texts_and_fields_labels(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        faces_manifest: dict[str, Any], photo: Callable[[str], bytes]) -> None:
    runner = seeded(start_service, faces_manifest, photo)
    ui = open_ui(runner)
    ui.login(runner.service.token)
    for path, _ in PAGES:
        page = ui.go(path)
        assert page.locator("img:not([alt])").count() == 0, path
        unlabelled = page.eval_on_selector_all(
            "input:not([type=hidden]), select",
            "els => els.filter(e => !e.labels.length && !e.getAttribute('aria-label'))"
            ".map(e => e.outerHTML)")
        assert unlabelled == [], (path, unlabelled)


def test_calibration_draws_the_gallery_scores(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        faces_manifest: dict[str, Any], photo: Callable[[str], bytes]) -> None:
    runner = seeded(start_service, faces_manifest, photo)
    ui = open_ui(runner)
    ui.login(runner.service.token)
    page = ui.go("calibration")
    scores, leads = page.locator("svg.chart").all()
    assert scores.locator("rect.bar.genuine").count() > 0
    assert scores.locator("rect.bar.impostor").count() > 0
    assert leads.locator("rect.bar.lead").count() > 0
    expect(scores.locator("text.mark-label")).to_have_text("threshold 0.55")
    expect(leads.locator("text.mark-label")).to_have_text("margin 0.08")
    # 4 people with 3, 2, 3 and 2 photos: 3+1+3+1 = 8 genuine pairs of 45, so 37 impostor.
    expect(page.get_by_text("4 people, 10 photos, 8 pairs of one person (genuine), 37 pairs "
                            "of different people (impostor)")).to_be_visible()
    current = page.locator("tr.current td")
    expect(current.first).to_have_text("0.55")
    # Every photo here has a same-person photo that beats every other person by the margin.
    expect(current.nth(3)).to_have_text("10")
    expect(current.nth(4)).to_have_text("0")
    assert ui.errors == [], ui.errors


def test_calibration_counts_the_visitors_a_threshold_would_name(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        photo: Callable[[str], bytes]) -> None:
    """Obama is seen as a stranger (a visitor) before he is enrolled, Biden stays one: at
    thresholds up to Obama's visitor's fused score against his enrolled photo that visitor
    counts as named, Biden's never (his best person, Obama, scores low)."""
    runner = start_service()
    for image in ("people/barack_obama/barack_obama_2.jpg", "people/joe_biden/joe_biden_1.jpg"):
        assert runner.http("POST", "/recognize?camera=door", photo(image)).status == 200
    assert runner.http("POST", "/enroll?name=Barack%20Obama",
                       photo("people/barack_obama/barack_obama_1.jpg")).status == 201
    assert len(runner.http("GET", "/visitors?status=pending").json()["visitors"]) == 2
    ui = open_ui(runner)
    ui.login(runner.service.token)
    page = ui.go("calibration")
    named = {float(row.locator("td").first.inner_text()):
             int(row.locator("td").nth(5).inner_text())
             for row in page.locator("tbody tr").all()}
    assert named[0.40] == 1  # Obama's visitor, whom 0.40 would name
    assert max(named.values()) == 1  # never Biden
    assert named[0.70] <= named[0.40]
    assert ui.errors == [], ui.errors


def test_the_keyboard_reaches_the_navigation_and_the_forms(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui]) -> None:
    runner = start_service()
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("")
    reached = []
    for _ in range(14):
        ui.page.keyboard.press("Tab")
        reached.append(ui.page.evaluate(
            "(e => e.id || e.textContent.trim())(document.activeElement)"))
    assert {label for _, label in NAV} <= set(reached)
    assert {"enroll-name", "enroll-file", "Enroll"} <= set(reached)
    while ui.page.evaluate("document.activeElement.textContent.trim()") != "Health":
        ui.page.keyboard.press("Shift+Tab")
    ui.page.keyboard.press("Enter")
    expect(ui.page.get_by_role("heading", name="Health", level=1)).to_be_visible()
    # The focused element is visibly marked.
    ui.page.keyboard.press("Tab")
    outline = ui.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert ui.errors == [], ui.errors


def test_health_lists_what_later_parts_add_to_health(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        monkeypatch: pytest.MonkeyPatch) -> None:
    runner = start_service()
    health = runner.service.health
    monkeypatch.setattr(runner.service, "health",
                        lambda: {**health(), "frigate_link": "connected", "streams": {"a": 1}})
    ui = open_ui(runner)
    ui.login(runner.service.token)
    facts = ui.go("health").locator("dl.facts").first
    expect(facts).to_contain_text("Frigate link")
    expect(facts).to_contain_text('{"a": 1}')
    expect(facts).to_contain_text("connected")
    assert ui.errors == [], ui.errors
