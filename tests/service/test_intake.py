"""The newest-per-camera queue: drops, turns, and one snapshot per camera at a time."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from known_faces.service.intake import IntakeFull, LatestPerCamera
from known_faces.sources.snapshot import Snapshot


def snap(camera: str, n: int) -> Snapshot:
    """A snapshot whose payload says which one it is."""
    return Snapshot(camera, f"{camera}{n}".encode(), float(n))


def test_newest_wins_cameras_take_turns_and_a_busy_camera_waits() -> None:
    async def scenario() -> None:
        drops: Counter[str] = Counter()
        queue = LatestPerCamera(on_drop=lambda c: drops.update([c]))
        queue.put(snap("a", 1))
        queue.put(snap("b", 1))
        queue.put(snap("a", 2))  # replaces a1 but keeps a's turn
        assert (len(queue), drops["a"]) == (2, 1)
        assert (await queue.get()).payload == b"a2"
        queue.put(snap("a", 3))  # a is busy: b goes first, a3 waits for release
        assert (await queue.get()).payload == b"b1"
        waiting = asyncio.create_task(queue.get())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        queue.release("a")
        assert (await asyncio.wait_for(waiting, 1)).payload == b"a3"

    asyncio.run(scenario())


def test_made_up_camera_names_cannot_grow_memory() -> None:
    async def scenario() -> None:
        drops: Counter[str] = Counter()
        queue = LatestPerCamera(max_cameras=3, on_drop=lambda c: drops.update([c]))
        for i in range(10):
            queue.put(snap(f"cam{i}", 0))
        assert len(queue) == 3
        assert sum(drops.values()) == 7

    asyncio.run(scenario())


def test_a_waited_for_snapshot_is_answered_never_replaced() -> None:
    async def scenario() -> None:
        drops: Counter[str] = Counter()
        queue = LatestPerCamera(on_drop=lambda c: drops.update([c]))
        reply = asyncio.get_running_loop().create_future()
        queue.put(Snapshot("a", b"mqtt1", 0.0))
        queue.put(Snapshot("a", b"http", 1.0, "http", False, reply))  # replaces the MQTT one
        queue.put(Snapshot("a", b"mqtt2", 2.0))  # dropped: somebody waits for "http"
        assert drops["a"] == 2
        other = asyncio.get_running_loop().create_future()
        with pytest.raises(IntakeFull):
            queue.put(Snapshot("a", b"http2", 3.0, "http", False, other))
        assert (await queue.get()).payload == b"http"

    asyncio.run(scenario())


def test_pending_bytes_are_bounded() -> None:
    async def scenario() -> None:
        drops: Counter[str] = Counter()
        queue = LatestPerCamera(max_bytes=10, on_drop=lambda c: drops.update([c]))
        queue.put(Snapshot("a", b"123456", 0.0))
        queue.put(Snapshot("b", b"123456", 0.0))  # over the budget: dropped
        assert (len(queue), queue.pending_bytes, drops["b"]) == (1, 6, 1)
        queue.put(Snapshot("a", b"1234567890", 1.0))  # replacing frees the old bytes
        assert queue.pending_bytes == 10
        reply = asyncio.get_running_loop().create_future()
        with pytest.raises(IntakeFull):
            queue.put(Snapshot("c", b"1", 2.0, "http", False, reply))
        await queue.get()
        assert queue.pending_bytes == 0

    asyncio.run(scenario())
