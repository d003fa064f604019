"""The outbox between the service and the broker: order, bounds, and every loss counted."""

from __future__ import annotations

from collections import Counter

from known_faces.publish.outbox import Kind, Message, Outbox


class Link:
    """A stand-in for the broker link that records what it was handed (the real link is
    exercised against a real Mosquitto in test_overload.py)."""

    def __init__(self, accept: bool = True) -> None:
        self.sent: list[Message] = []
        self.accept = accept

    def __call__(self, message: Message) -> bool:
        if self.accept:
            self.sent.append(message)
        return self.accept


def make(link: Link, **limits: int) -> tuple[Outbox, Counter[tuple[str, str]]]:
    dropped: Counter[tuple[str, str]] = Counter()
    outbox = Outbox(link, lambda kind, reason: dropped.update([(kind.value, reason)]), **limits)
    return outbox, dropped


def test_nothing_is_sent_while_down_and_everything_in_order_once_up() -> None:
    link = Link()
    outbox, dropped = make(link)
    for n in range(5):
        outbox.event("e", str(n))
    outbox.state("cam/state", "old")
    outbox.state("cam/state", "new")  # supersedes the waiting one: not a loss
    assert link.sent == []
    outbox.connected(True)
    assert [m.payload for m in link.sent] == ["0", "1", "2", "3", "4", "new"]
    assert [m.retain for m in link.sent] == [False] * 5 + [True]
    assert not dropped


def test_inflight_is_bounded_until_the_broker_acknowledges() -> None:
    link = Link()
    outbox, _ = make(link, max_inflight=3)
    outbox.connected(True)
    for n in range(10):
        outbox.event("e", str(n))
    assert len(link.sent) == 3
    assert (outbox.inflight, outbox.waiting) == (3, 7)
    for _ in range(7):
        outbox.acked()
    assert [m.payload for m in link.sent] == [str(n) for n in range(10)]


def test_a_full_queue_drops_the_oldest_event_and_counts_it() -> None:
    link = Link()
    outbox, dropped = make(link, max_events=4)
    for n in range(10):
        outbox.event("e", str(n))
    assert dropped == Counter({("event", "queue_full"): 6})
    outbox.connected(True)
    assert [m.payload for m in link.sent] == ["6", "7", "8", "9"]


def test_a_refused_publish_is_counted_not_retried_forever() -> None:
    link = Link(accept=False)
    outbox, dropped = make(link)
    outbox.connected(True)
    outbox.event("e", "x")
    outbox.state("s", "y")
    assert dropped == Counter({("event", "publish_error"): 1, ("state", "publish_error"): 1})
    assert outbox.waiting == 0


def test_states_are_bounded_too() -> None:
    outbox, dropped = make(Link(), max_states=2)
    for n in range(5):
        outbox.state(f"cam{n}/state", "x")
    assert (outbox.waiting, dropped[(Kind.STATE.value, "queue_full")]) == (2, 3)
