"""Events and Cameras in a real browser: snapshots sent over MQTT appear on the open Events page
without a reload, with their crops, and filter by status; the Cameras page shows the last
snapshot with boxes drawn and the camera's own thresholds, and enrolls a face from it."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from known_faces.pipeline.decode import decode_image
from tests.service.helpers import MqttProbe, ServiceRunner, enroll

from .conftest import Ui
from .test_people import OBAMA_1, OBAMA_2, loaded

STRANGER = "people/joe_biden/joe_biden_1.jpg"


def test_events_update_live_and_cameras_show_the_last_snapshot(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        listen: Callable[[ServiceRunner], MqttProbe], photo: Callable[[str], bytes]) -> None:
    runner = start_service(cameras=[{"name": "front_door", "match_threshold": 0.6}])
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    probe = listen(runner)
    topics = runner.service.topics
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("events")
    expect(ui.page.get_by_text("No events yet.")).to_be_visible()

    probe.publish(f"{topics.prefix}/snapshot/front_door", photo(OBAMA_2))
    known = ui.page.locator("li.event.known")
    expect(known).to_have_count(1)  # arrived through the live feed, no reload
    expect(known).to_contain_text("Barack Obama")
    expect(known).to_contain_text("front_door")
    probe.publish(f"{topics.prefix}/snapshot/garden", photo(STRANGER))
    expect(ui.page.locator("li.event.unknown")).to_have_count(1)
    expect(ui.page.locator("li.event").first).to_have_class("event unknown")  # newest first
    ui.page.wait_for_load_state("networkidle")
    assert loaded(ui, "li.event img") == 2
    ui.screenshot("events")

    ui.page.get_by_label("Status").select_option("known")
    ui.page.get_by_role("button", name="Filter").click()
    expect(ui.page.locator("li.event")).to_have_count(1)
    expect(ui.page.locator("li.event")).to_contain_text("Barack Obama")

    ui.go("cameras")
    door = ui.page.locator('li[data-camera="front_door"]')
    expect(door).to_contain_text("threshold 0.60")
    expect(door).to_contain_text("this camera's own")
    expect(door).to_contain_text("Barack Obama")
    expect(ui.page.locator('li[data-camera="garden"]')).to_contain_text("(global)")
    assert loaded(ui, "img.snapshot") == 2
    size = door.locator("img.snapshot").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    height, width = decode_image(photo(OBAMA_2)).shape[:2]
    assert size == [width, height]  # the whole snapshot, drawn on
    ui.screenshot("cameras")

    # The stranger in the garden gets a name from the Cameras page.
    garden = ui.page.locator('li[data-camera="garden"]')
    garden.get_by_label("Enroll face 1 of garden as").fill("Joe Biden")
    garden.get_by_role("button", name="Enroll").click()
    expect(ui.page.locator("#notice")).to_contain_text("Added a photo of Joe Biden")
    faces = runner.http("GET", "/people/joe_biden/faces").json()["faces"]
    assert [f["source"] for f in faces] == ["camera:garden"]
    assert ui.errors == [], ui.errors


def test_events_page_still_lists_the_events_after_a_restart(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        photo: Callable[[str], bytes], tmp_path) -> None:
    """The events the gallery kept are listed again (without their crops, which it did not
    keep), instead of an empty page after every restart."""
    first = start_service(tmp_path / "data")
    enroll(first, "Barack Obama", photo(OBAMA_1))
    assert first.http("POST", "/recognize?camera=door&publish=true", photo(OBAMA_2)).status == 200
    first.stop()
    second = start_service(tmp_path / "data")
    ui = open_ui(second)
    ui.login(second.service.token)
    ui.go("events")
    event = ui.page.locator("li.event.known")
    expect(event).to_have_count(1)
    expect(event).to_contain_text("Barack Obama")
    expect(event).to_contain_text("door")
    assert ui.errors == [], ui.errors
