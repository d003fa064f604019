"""Web UI benchmark: how long each page takes to load in Debian's Chromium, on a real service.

Run from the repository root after scripts/setup (and with /usr/bin/chromium installed):
    .venv/bin/python bench/ui_pages.py [--people 16] [--repeat 5]

It starts its own Mosquitto and the service in this process (as the tests do), enrolls up to
``--people`` people of the shared photos with every photo the gates accept, publishes one recognised
snapshot, signs in, then loads every page ``--repeat`` times and prints, per page, the median
and worst time from navigation to the ``load`` event (every image and script included) and
the page's transferred size. Photos come from $KNOWN_FACES_TEST_DATA or ../shared/data/faces.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from known_faces.pipeline.engine import Engine  # noqa: E402
from tests import photos  # noqa: E402
from tests.service.conftest import service_settings  # noqa: E402
from tests.service.helpers import Broker, ServiceRunner, mosquitto_binary  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

PAGES = ("", "people/barack_obama", "visitors", "events", "search", "cameras", "calibration",
         "health")
TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const bytes = performance.getEntriesByType("resource")
    .reduce((sum, r) => sum + r.transferSize, nav.transferSize);
  return [nav.loadEventEnd - nav.startTime, bytes];
}"""


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    binary = mosquitto_binary()
    if binary is None or not CHROMIUM.exists():
        sys.exit("needs mosquitto and /usr/bin/chromium (scripts/test installs both)")
    faces_dir, manifest = photos.faces_dir(), photos.manifest()
    with tempfile.TemporaryDirectory() as tmp:
        broker = Broker(binary, Path(tmp))
        broker.start()
        runner = ServiceRunner(service_settings(broker, Path(tmp) / "data",
                                                topic_prefix="bench_ui"),
                               Engine.load(threads=1))
        runner.start()
        try:
            faces = 0
            for slug, files in list(manifest["people"].items())[: args.people]:
                name = quote(slug.replace("_", " ").title())
                for file in files:  # photos the enrollment gates refuse are left out
                    added = runner.http("POST", f"/enroll?name={name}",
                                        (faces_dir / file).read_bytes())
                    faces += added.status == 201
            runner.http("POST", "/recognize?camera=porch&publish=true",
                        (faces_dir / manifest["people"]["barack_obama"][1]).read_bytes())
            rows = measure(runner, args.repeat)
        finally:
            runner.stop()
            broker.kill()
    print(f"# web UI page loads, Chromium headless, {min(args.people, len(manifest['people']))} "
          f"people / {faces} photos, {args.repeat} loads each")
    print(f"{'page':<22}{'median ms':>10}{'max ms':>10}{'KiB':>8}")
    for page, times, size in rows:
        print(f"{'/' + page:<22}{statistics.median(times):>10.0f}{max(times):>10.0f}"
              f"{size / 1024:>8.0f}")
    print(json.dumps({"worst_ms": round(max(max(t) for _, t, _ in rows))}))


def measure(runner: ServiceRunner, repeat: int) -> list[tuple[str, list[float], int]]:
    """(page, load times in ms, transferred bytes) per page, after one warm-up load each."""
    base = f"http://127.0.0.1:{runner.service.http_port}/"
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(base + "login")
        page.get_by_label("API token").fill(runner.service.token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("load")
        for path in PAGES:
            page.goto(base + path)
            times, size = [], 0
            for _ in range(repeat):
                page.goto(base + path, wait_until="load")
                elapsed, size = page.evaluate(TIMING)
                times.append(float(elapsed))
            rows.append((path, times, int(size)))
        browser.close()
    return rows


if __name__ == "__main__":
    main()
