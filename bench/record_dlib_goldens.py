"""Record dlib's own descriptors once, as the golden embeddings of the converted dlib model.

dlib-bin's ``compute_face_descriptor`` (the reference implementation, a test/install-time tool,
never a runtime dependency) is run on
* the synthetic inputs of ``known_faces.models.golden.golden_inputs(150)``: their L2-normalised
  descriptors are what ``known-faces models install`` / ``verify`` check (no photo needed), and
* real 150×150 chips cut by the project's own alignment (``pipeline.align.DLIB_CHIP``) from the
  shared photos: the landmarks and dlib's raw descriptors are kept so the tests can cut the same
  chips again and compare (photos are never copied into the repository).

Run from the repository root after scripts/setup and with dlib-bin installed (scripts/test
installs it):
    .venv/bin/python bench/record_dlib_goldens.py [--photos DIR]
It rewrites addon/known_faces/models/dlib_golden_embeddings.json.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import dlib
import face_recognition_models
import numpy as np

from known_faces.models.golden import DLIB_GOLDEN_FILE, golden_inputs
from known_faces.pipeline.align import DLIB_CHIP, cut_chip
from known_faces.pipeline.decode import decode_image
from known_faces.pipeline.engine import Engine

#: One photo per person of a few shared people: enough faces, ages and lighting to catch a
#: wrong layer, small enough to keep the JSON readable.
PHOTOS = (
    "people/barack_obama/barack_obama_1.jpg",
    "people/joe_biden/joe_biden_1.jpg",
    "people/amy_adams/amy_adams_1.jpg",
    "people/kit_harington/kit_harington_2.jpg",
    "people/rose_leslie/rose_leslie_1.jpg",
    "people/person_a/person_a_3.jpg",
)


def descriptor(model: dlib.face_recognition_model_v1, bgr_chip: np.ndarray) -> np.ndarray:
    """dlib's raw 128-D descriptor of a 150×150 BGR chip (dlib takes RGB)."""
    rgb = np.ascontiguousarray(bgr_chip[..., ::-1])
    return np.asarray(model.compute_face_descriptor(rgb), dtype=np.float64)


def main() -> int:
    """Record and write the golden file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path(
        os.environ.get("KNOWN_FACES_TEST_DATA", "../shared/data/faces")))
    args = parser.parse_args()
    model = dlib.face_recognition_model_v1(
        face_recognition_models.face_recognition_model_location())
    synthetic = [descriptor(model, chip) for chip in golden_inputs(DLIB_CHIP.size)]
    engine = Engine.load()
    chips = []
    for photo in PHOTOS:
        image = decode_image((args.photos / photo).read_bytes())
        face = max(engine.detector.detect(image), key=lambda d: d.box[2] - d.box[0])
        raw = descriptor(model, cut_chip(image, face.landmarks, DLIB_CHIP))
        chips.append({"photo": photo,
                      "landmarks": face.landmarks.astype(np.float64).tolist(),
                      "descriptor": np.round(raw, 7).tolist()})
    golden = {
        "model": "dlib-resnet-128",
        "recorded_with": f"dlib-bin {dlib.__version__} compute_face_descriptor",
        "inputs": "known_faces.models.golden.golden_inputs(150)",
        "embeddings": [np.round(v / np.linalg.norm(v), 7).tolist() for v in synthetic],
        "chips": chips,
    }
    DLIB_GOLDEN_FILE.write_text(json.dumps(golden) + "\n")
    print(f"wrote {DLIB_GOLDEN_FILE} ({len(synthetic)} synthetic inputs, {len(chips)} chips)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
