"""The People pages in a real browser: sign in with the token, enroll through the upload form,
see the person, add and delete a photo, rename, forget, a refused photo that changes nothing,
and sign out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect

from tests.service.helpers import ServiceRunner

from .conftest import Ui

OBAMA_1 = "people/barack_obama/barack_obama_1.jpg"
OBAMA_2 = "people/barack_obama/barack_obama_2.jpg"
BIDEN_1 = "people/joe_biden/joe_biden_1.jpg"
GROUP = "groups/compreface_010_2.jpg"


def loaded(ui: Ui, selector: str) -> int:
    """How many images matching ``selector`` decoded (naturalWidth > 0)."""
    return ui.page.eval_on_selector_all(
        selector, "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")


def test_enroll_through_the_upload_form_then_rename_and_forget(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        faces_dir: Path) -> None:
    runner = start_service()
    ui = open_ui(runner)
    ui.go()
    assert ui.page.url.endswith("/login")  # a standalone browser is asked for the token first
    ui.page.get_by_label("API token").fill("not-the-token")
    ui.page.get_by_role("button", name="Sign in").click()
    expect(ui.page.get_by_role("alert")).to_contain_text("not this service's API token")
    ui.login(runner.service.token)
    expect(ui.page.get_by_role("heading", name="People", level=1)).to_be_visible()
    expect(ui.page.get_by_text("Nobody is enrolled yet.")).to_be_visible()

    # A group photo is refused with the reason, and nobody is created.
    ui.page.get_by_label("Name").fill("Barack Obama")
    ui.page.get_by_label("Photo with one clear face").set_input_files(faces_dir / GROUP)
    ui.page.get_by_role("button", name="Enroll").click()
    expect(ui.page.locator("#notice")).to_have_class("notice error")
    assert runner.http("GET", "/people").json()["people"] == []

    ui.page.get_by_label("Photo with one clear face").set_input_files(faces_dir / OBAMA_1)
    ui.page.get_by_role("button", name="Enroll").click()
    card = ui.page.locator('[data-person="barack_obama"]')
    expect(card.get_by_role("link", name="Barack Obama")).to_be_visible()
    expect(ui.page.locator("#notice")).to_contain_text("Added a photo of Barack Obama")
    ui.page.wait_for_load_state("networkidle")
    assert loaded(ui, '[data-person="barack_obama"] img') == 1
    ui.screenshot("people")

    card.get_by_role("link", name="Barack Obama").click()
    expect(ui.page.get_by_role("heading", name="Barack Obama", level=1)).to_be_visible()
    ui.page.get_by_label("Add a photo").set_input_files(faces_dir / OBAMA_2)
    ui.page.get_by_role("button", name="Add", exact=True).click()
    expect(ui.page.locator("figure.face")).to_have_count(2)
    ui.page.wait_for_load_state("networkidle")
    assert loaded(ui, "figure.face img") == 2
    expect(ui.page.locator("figure.face").first).to_contain_text("px")  # quality shown
    ui.screenshot("person")

    ui.page.get_by_label("Display name").fill("Barack H. Obama")
    ui.page.get_by_role("button", name="Rename").click()
    expect(ui.page.get_by_role("heading", name="Barack H. Obama", level=1)).to_be_visible()
    person = runner.http("GET", "/people/barack_obama").json()
    assert (person["name"], person["face_count"]) == ("Barack H. Obama", 2)

    first = person["faces"][0]["id"]
    ui.page.get_by_role("button", name=f"Delete photo {first}").click()
    expect(ui.page.locator("figure.face")).to_have_count(1)
    assert [f["id"] for f in runner.http("GET", "/people/barack_obama/faces").json()["faces"]
            ] == [person["faces"][1]["id"]]

    ui.page.get_by_role("button", name="Forget Barack H. Obama").click()
    expect(ui.page.get_by_text("Nobody is enrolled yet.")).to_be_visible()
    assert runner.http("GET", "/people").json()["people"] == []

    ui.page.get_by_role("button", name="Sign out").click()
    expect(ui.page.get_by_label("API token")).to_be_visible()
    ui.go("events")
    assert ui.page.url.endswith("/login")  # the session is gone
    # The browser reports the two refusals this test asked for, and nothing else.
    assert [e.split(" (http")[0] for e in ui.errors] == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
        "Failed to load resource: the server responded with a status of 422 "
        "(Unprocessable Entity)"], ui.errors


def test_a_photo_unlike_the_person_is_refused_until_the_user_says_it_is_them(
        start_service: Callable[..., ServiceRunner], open_ui: Callable[..., Ui],
        faces_dir: Path, photo: Callable[[str], bytes]) -> None:
    """Biden's photo added to Obama (the commonest way a gallery gets poisoned) is refused
    with the reason; ticking the box adds it, with the warning shown."""
    runner = start_service()
    assert runner.http("POST", "/enroll?name=Barack%20Obama", photo(OBAMA_1)).status == 201
    ui = open_ui(runner)
    ui.login(runner.service.token)
    ui.go("people/barack_obama")
    ui.page.get_by_label("Add a photo").set_input_files(faces_dir / BIDEN_1)
    ui.page.get_by_role("button", name="Add", exact=True).click()
    expect(ui.page.locator("#notice")).to_contain_text("does not resemble")
    expect(ui.page.locator("#notice")).to_have_class("notice error")
    assert runner.http("GET", "/people/barack_obama").json()["face_count"] == 1
    ui.page.get_by_label("Add even if it does not look like their other photos").check()
    ui.page.get_by_role("button", name="Add", exact=True).click()
    expect(ui.page.locator("#notice")).to_contain_text("Warning: this photo does not resemble")
    expect(ui.page.locator("figure.face")).to_have_count(2)
