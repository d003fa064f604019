"""A stranger followed through Frigate events is one sighting per event, however many frames
the follower fetched (DESIGN §9, §10). Frigate is the FAKE of ``frigate_fake.py`` (Frigate
cannot run here) serving real shared photos; the service, engine, SQLite and Mosquitto are
real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .frigate_fake import FakeFrigate
from .helpers import wait_until
from .test_frigate import Setup, follow, frigate  # noqa: F401  (fixtures)

Photo = Callable[[str], bytes]
LENNON = ("people/john_lennon/john_lennon_1.jpg", "people/john_lennon/john_lennon_2.jpg")


def test_each_frigate_event_of_a_stranger_counts_once(
        follow: Callable[..., Setup], frigate: FakeFrigate, photo: Photo,  # noqa: F811
        faces_manifest: dict[str, Any]) -> None:
    setup = follow(frigate.url, frigate_attempts=2)
    visitors = setup.runner.service.recognizer.visitors
    pictures = [photo(p) for p in LENNON]
    for number, event_id in enumerate(("1700000010.1-a", "1700000020.1-b"), start=1):
        frigate.add_event(event_id, "porch", pictures, latest=list(reversed(pictures)))
        setup.send("new", event_id, "porch")
        assert setup.answers(event_id)[0]["verdict"] == "unknown"
        setup.send("end", event_id, "porch")
        setup.answers(event_id, kind="end")
        found = visitors.listing()
        assert len(found) == 1, [v.as_dict() for v in found]
        assert found[0].seen == number
        # Every frame was kept as a sighting (the best crops win), counted or not.
        assert len(visitors.sightings(found[0].label)) >= 2 * number
    events = [m.json() for m in setup.probe.messages
              if m.topic == setup.runner.service.topics.person_detected]
    assert {e["visitor"] for e in events} == {found[0].label}
    assert max(e["visitor_sightings_24h"] for e in events) == 2
    wait_until(lambda: setup.runner.service.frigate.remembered == 0, 10)
