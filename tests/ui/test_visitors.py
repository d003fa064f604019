"""Visitors and Search in a real browser, against the visitors API of DESIGN §9: strangers
become visitors awaiting review; assigning one names the next snapshot; an ignored one's next
face is ``ignored``; two merge into one; a photo finds its past sightings.

They run only where the service has that API (it is built on another branch): until then they
are skipped with "visitors API not on this branch".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from known_faces.service.routes import API_BASE
from tests.service.helpers import MqttProbe, ServiceRunner

from .conftest import Ui

BIDEN_1, BIDEN_2 = "people/joe_biden/joe_biden_1.jpg", "people/joe_biden/joe_biden_2.jpg"
KIT_1, KIT_2 = ("people/kit_harington/kit_harington_1.jpg",
                "people/kit_harington/kit_harington_2.jpg")
AMY_1 = "people/amy_adams/amy_adams_1.jpg"


def visitors_service(start_service: Callable[..., ServiceRunner]) -> ServiceRunner:
    """A service with the visitors API, or the test is skipped."""
    runner = start_service()
    served = {r.resource.canonical for r in runner.service.http_app.router.routes()
              if r.resource is not None}
    if API_BASE + "/visitors" not in served or API_BASE + "/search" not in served:
        pytest.skip("visitors API not on this branch")
    return runner


def send(probe: MqttProbe, runner: ServiceRunner, camera: str, image: bytes) -> dict:
    """Publish a snapshot and wait for its person_detected event."""
    topics = runner.service.topics
    probe.clear()
    probe.publish(f"{topics.prefix}/snapshot/{camera}", image)
    return probe.wait_for(lambda m: m.topic == topics.person_detected, 20)[0].json()


def test_assign_a_visitor_then_the_next_snapshot_is_named(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        listen: Callable[[ServiceRunner], MqttProbe], photo: Callable[[str], bytes]) -> None:
    runner = visitors_service(start_service)
    probe = listen(runner)
    first = send(probe, runner, "porch", photo(BIDEN_1))
    assert first["known"] is False
    visitor = first["visitor"]
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("visitors")
    card = ui.page.locator(f'#visitors-pending li[data-visitor="{visitor}"]')
    expect(card).to_be_visible()
    ui.screenshot("visitors")
    card.get_by_label(f"Name for {visitor}").fill("Joe Biden")
    card.get_by_role("button", name="Assign").click()
    expect(ui.page.locator(f'#visitors-pending li[data-visitor="{visitor}"]')).to_have_count(0)
    assert runner.http("GET", "/people/joe_biden").status == 200
    again = send(probe, runner, "porch", photo(BIDEN_2))
    assert (again["known"], again["person"]) == (True, "joe_biden")
    assert ui.errors == [], ui.errors


def test_ignore_a_visitor_and_merge_two(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        listen: Callable[[ServiceRunner], MqttProbe], photo: Callable[[str], bytes]) -> None:
    runner = visitors_service(start_service)
    probe = listen(runner)
    kit = send(probe, runner, "gate", photo(KIT_1))["visitor"]
    biden = send(probe, runner, "gate", photo(BIDEN_1))["visitor"]
    assert kit != biden
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("visitors")
    ui.page.locator(f'#visitors-pending li[data-visitor="{kit}"]').get_by_role(
        "button", name="Ignore").click()
    expect(ui.page.locator(f'#visitors-ignored li[data-visitor="{kit}"]')).to_be_visible()
    assert send(probe, runner, "gate", photo(KIT_2)).get("status") == "ignored"

    ui.page.locator(f'#visitors-ignored li[data-visitor="{kit}"]').get_by_role(
        "button", name="Stop ignoring").click()
    expect(ui.page.locator(f'#visitors-pending li[data-visitor="{kit}"]')).to_be_visible()
    for visitor in (kit, biden):
        ui.page.locator(f'#visitors-pending li[data-visitor="{visitor}"] input[name="merge"]'
                        ).check()
    ui.page.get_by_role("button", name="Merge the two selected").click()
    expect(ui.page.locator("#visitors-pending li.visitor")).to_have_count(1)
    pending = runner.http("GET", "/visitors?status=pending").json()
    assert len(pending["visitors"]) == 1
    assert ui.errors == [], ui.errors


def test_search_by_photo_finds_past_sightings(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        listen: Callable[[ServiceRunner], MqttProbe], photo: Callable[[str], bytes],
        faces_dir: Path) -> None:
    runner = visitors_service(start_service)
    probe = listen(runner)
    seen = send(probe, runner, "driveway", photo(BIDEN_1))
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("search")
    ui.page.get_by_label("Photo of the face to look for").set_input_files(faces_dir / BIDEN_2)
    ui.page.get_by_role("button", name="Search").click()
    results = ui.page.locator("#search-results")
    expect(results.locator("li.event").first).to_contain_text("driveway")
    ui.page.wait_for_load_state("networkidle")
    ui.screenshot("search")
    assert seen["visitor"]  # the sighting searched for was a visitor's
    assert ui.errors == [], ui.errors


def test_many_visitors_are_shown_a_page_at_a_time(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        listen: Callable[[ServiceRunner], MqttProbe], photo: Callable[[str], bytes],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A page holds ``VISITORS_PAGE`` cards (two here, 48 in use); "Show more" appends the
    next page after them, and is gone once every visitor is shown."""
    monkeypatch.setattr("known_faces.ui.pages.VISITORS_PAGE", 2)
    runner = visitors_service(start_service)
    probe = listen(runner)
    seen = [send(probe, runner, "street", photo(p))["visitor"] for p in (BIDEN_1, KIT_1, AMY_1)]
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("visitors")
    cards = ui.page.locator("#visitors-pending li.visitor")
    expect(cards).to_have_count(2)
    more = ui.page.get_by_role("button", name="Show more (2 of 3 shown)")
    more.click()
    expect(cards).to_have_count(3)
    expect(more).to_have_count(0)
    assert [cards.nth(i).get_attribute("data-visitor") for i in range(3)] == seen[::-1]
    assert ui.errors == [], ui.errors
