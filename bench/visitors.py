"""Visitor benchmark (DESIGN §9): what grouping strangers costs at 1,000 and 10,000 visitors.

For each size a gallery is filled with that many visitors of ``KEEP_SIGHTINGS`` sightings each
(random unit vectors, a real-sized JPEG crop; written in one transaction, as a harness may),
then the real store is timed: loading its index from SQLite, ``nearest`` (the look-up alone),
``observe`` (what every unknown face pays: look-up, join or start, trim, one write
transaction) and a whole ``Recognizer.recognize`` of a one-stranger snapshot with its
``visitors`` stage (the cost per unknown face as the pipeline pays it).

Run from the repository root after scripts/setup:
    .venv/bin/python bench/visitors.py [--repeat N] [--sizes 1000,10000] [--photos DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from known_faces.pipeline.engine import Engine, encode_crop
from known_faces.publish.payloads import quality
from known_faces.recognizer import Recognizer, impostor_stats
from known_faces.store.gallery import Gallery
from known_faces.store.visitors import KEEP_SIGHTINGS, Visitors, crop_rank, label

STRANGER = "people/albert_einstein/albert_einstein_1.jpg"


def median_ms(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``call`` in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fill(gallery: Gallery, count: int, dims: dict[str, int], crop: bytes,
         measures: dict[str, float]) -> None:
    """``count`` visitors with ``KEEP_SIGHTINGS`` random sightings each (a vector of every
    model each), in one transaction."""
    rng = np.random.default_rng(count)
    stamp = "2026-01-01T00:00:00+00:00"
    with gallery._write(change=False) as db:
        for vid in range(1, count + 1):
            db.execute("INSERT INTO visitors(id, first_seen, last_seen, seen) VALUES (?, ?, ?, ?)",
                       (vid, stamp, stamp, KEEP_SIGHTINGS))
            for _ in range(KEEP_SIGHTINGS):
                sid = db.execute(
                    "INSERT INTO sightings(visitor_id, label, time, camera, score, quality, "
                    "rank, crop) VALUES (?, ?, ?, 'bench', NULL, ?, ?, ?)",
                    (vid, label(vid), stamp, json.dumps(measures), crop_rank(measures),
                     crop)).lastrowid
                for model, dim in dims.items():
                    vector = rng.normal(size=dim).astype(np.float32)
                    db.execute("INSERT INTO sighting_vectors(sighting_id, model, vector) "
                               "VALUES (?, ?, ?)",
                               (sid, model, (vector / np.linalg.norm(vector)).tobytes()))


def bench_size(engine: Engine, image: bytes, size: int, repeat: int
               ) -> tuple[float, float, float, float, float]:
    """(load index, nearest, observe, recognize, its visitors stage) in ms at ``size``
    visitors."""
    face = next(f for f in engine.analyse(image) if f.embedding is not None)
    vector = face.embeddings
    crop, measures = encode_crop(face.crop), quality(face.quality)
    with tempfile.TemporaryDirectory() as tmp:
        gallery = Gallery.open(Path(tmp))
        fill(gallery, size, engine.dims, crop, measures)
        visitors = Visitors(gallery, engine.dims, 0.55, impostor_stats(engine.model_ids))
        start = time.perf_counter()
        visitors.nearest(vector)
        load = (time.perf_counter() - start) * 1000
        nearest = median_ms(lambda: visitors.nearest(vector), repeat)
        observe = median_ms(lambda: visitors.observe(vector, crop, measures, "bench",
                                                     "2026-01-02T00:00:00+00:00"), repeat)
        recognizer = Recognizer(engine, gallery, keep_unknown=True)
        recognizer.visitors.nearest(vector)  # its index is loaded before timing
        totals, stages = [], []
        for _ in range(repeat):
            result = recognizer.recognize(image)
            totals.append(result.latency_ms)
            stages.append(result.stage_ms["visitors"])
        gallery.close()
    return load, nearest, observe, statistics.median(totals), statistics.median(stages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path(
        os.environ.get("KNOWN_FACES_TEST_DATA", "../shared/data/faces")))
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--threads", type=int, default=1,
                        help="ONNX Runtime threads (the service runs 1 per worker; with 2 on "
                             "two cores its spinning threads slow NumPy's look-up several-fold)")
    parser.add_argument("--mode", choices=("accurate", "fast"), default="accurate")
    args = parser.parse_args()
    engine = Engine.load(threads=args.threads, mode=args.mode)
    image = (args.photos / STRANGER).read_bytes()
    models = ", ".join(f"{m} ({d}-d)" for m, d in engine.dims.items())
    print(f"visitors of {KEEP_SIGHTINGS} sightings each, {args.mode} mode: {models}, "
          f"{args.threads} ONNX Runtime thread(s), "
          f"median of {args.repeat} runs, ms")
    print(f"{'visitors':>8} {'load index':>10} {'nearest':>8} {'observe':>8} "
          f"{'recognize':>9} {'of which visitors':>17}")
    for size in (int(s) for s in args.sizes.split(",")):
        row = bench_size(engine, image, size, args.repeat)
        print(f"{size:>8,} {row[0]:>10.1f} {row[1]:>8.2f} {row[2]:>8.2f} {row[3]:>9.1f} "
              f"{row[4]:>17.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
