"""Engine benchmark: per-stage times against the floor, matching scale, RSS, face_recognition.

Run from the repository root after scripts/setup:  .venv/bin/python bench/engine.py [--json]
It is the same measurement as ``known-faces bench``; photos default to ../shared/data/faces.
"""

import sys

from known_faces.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
