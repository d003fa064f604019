"""Counters, gauges and histograms rendered in the Prometheus text format (``GET /metrics``).

A handful of metric families does not justify a client library; this keeps the exposition
format in one small file. Updates happen on the event loop, so no locking is needed.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable

Labels = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class Counter:
    """A monotonically growing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self.values: dict[Labels, float] = defaultdict(float)

    def inc(self, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        self.values[tuple(sorted(labels.items()))] += amount

    def get(self, **labels: str) -> float:
        """Current value of one series (0 when never touched)."""
        return self.values.get(tuple(sorted(labels.items())), 0)

    def samples(self) -> Iterable[str]:
        """Exposition lines."""
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(labels)} {_number(value)}"


class Gauge:
    """A value read when scraped, from a callback, so it is never stale."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def samples(self) -> Iterable[str]:
        """Exposition lines."""
        yield f"{self.name} {_number(self.read())}"


class Histogram:
    """Cumulative latency buckets per label set, in seconds."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...] = LATENCY_BUCKETS):
        self.name, self.help, self.buckets = name, help_text, buckets
        self.counts: dict[Labels, list[int]] = {}
        self.sums: dict[Labels, float] = defaultdict(float)

    def observe(self, seconds: float, **labels: str) -> None:
        """Record one observation."""
        key = tuple(sorted(labels.items()))
        counts = self.counts.setdefault(key, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.sums[key] += seconds

    def samples(self) -> Iterable[str]:
        """Exposition lines: cumulative buckets, ``+Inf``, sum and count."""
        for labels, counts in sorted(self.counts.items()):
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                bucket = _labels(labels, 'le="' + le + '"')
                yield f"{self.name}_bucket{bucket} {running}"
            yield f"{self.name}_sum{_labels(labels)} {_number(self.sums[labels])}"
            yield f"{self.name}_count{_labels(labels)} {running}"


class CameraLabels:
    """The metric label of a camera name, from a bounded set.

    Any broker client can make up camera names, and every distinct label is a series kept
    forever: configured cameras and the first ``max_others`` other names keep their own label,
    later ones share ``(other)``, invalid ones ``(invalid)``. Parentheses cannot occur in a
    camera name, so neither can collide with a real camera.
    """

    OTHER = "(other)"
    INVALID = "(invalid)"

    def __init__(self, configured: Iterable[str] = (), max_others: int = 32) -> None:
        self._known = set(configured)
        self._others: set[str] = set()
        self._max_others = max_others

    def __call__(self, camera: str) -> str:
        """The label to count ``camera`` under (an already valid name)."""
        if camera in self._known or camera in self._others:
            return camera
        if len(self._others) < self._max_others:
            self._others.add(camera)
            return camera
        return self.OTHER


class Metrics:
    """Every metric the service exposes (issue 4 §3)."""

    def __init__(self) -> None:
        self.received = Counter(
            "known_faces_snapshots_received_total", "Snapshots received, per camera and source."
        )
        self.processed = Counter(
            "known_faces_snapshots_processed_total", "Snapshots recognised, per camera."
        )
        self.dropped = Counter(
            "known_faces_snapshots_dropped_total",
            "Snapshots replaced by a newer one of the same camera before they were recognised.",
        )
        self.failed = Counter(
            "known_faces_snapshots_failed_total",
            "Snapshots that could not be recognised (not an image, too large, ...), per reason.",
        )
        self.faces = Counter(
            "known_faces_faces_total", "Faces found, per camera and status (known, unknown, ...)."
        )
        self.stage_seconds = Histogram(
            "known_faces_stage_seconds", "Time per pipeline stage of one snapshot."
        )
        self.latency_seconds = Histogram(
            "known_faces_snapshot_latency_seconds",
            "From receipt to published result, waiting included, per source.",
        )
        self.events = Counter(
            "known_faces_events_total",
            "person_detected events produced; each is delivered to the broker or counted in "
            "known_faces_publish_dropped_total{kind=\"event\"}.",
        )
        self.publish_dropped = Counter(
            "known_faces_publish_dropped_total",
            "Outgoing MQTT messages that could not be kept or sent, per kind and reason.",
        )
        self._gauges: list[Gauge] = []
        self._counters: list[Counter] = []

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Expose a value read at scrape time."""
        self._gauges.append(Gauge(name, help_text, read))

    def counter(self, name: str, help_text: str) -> Counter:
        """A counter a feature adds (the Frigate follower, …), exposed with the others."""
        self._counters.append(Counter(name, help_text))
        return self._counters[-1]

    def render(self) -> str:
        """The whole exposition document."""
        families: list[Counter | Histogram | Gauge] = [
            self.received,
            self.processed,
            self.dropped,
            self.failed,
            self.faces,
            self.stage_seconds,
            self.latency_seconds,
            self.events,
            self.publish_dropped,
            *self._gauges,
            *self._counters,
        ]
        lines: list[str] = []
        for family in families:
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            lines.extend(family.samples())
        return "\n".join(lines) + "\n"
