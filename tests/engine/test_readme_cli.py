"""The README's command-line examples run as written: every line of its *Command line* block
is a valid command, and the *Accuracy* example prints what the README shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from known_faces.cli import build_parser
from tests.photos import REPO

README = (REPO / "README.md").read_text()


def section(title: str) -> str:
    """The README text from the ``## title`` heading to the next ``## `` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else len(README)]


def first_block(text: str) -> str:
    """The first fenced code block of ``text``."""
    match = re.search(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    assert match, "no code block"
    return match.group(1)


COMMANDS = [line for line in first_block(section("Command line")).splitlines()
            if line.startswith("known-faces ")]


def test_the_block_lists_every_command() -> None:
    """Each subcommand has at least one example."""
    used = {shlex.split(line, comments=True)[1] for line in COMMANDS}
    assert {"enroll", "recognize", "people", "gallery", "evaluate", "models", "bench",
            "serve", "token"} <= used


@pytest.mark.parametrize("line", COMMANDS)
def test_each_example_parses(line: str) -> None:
    """The example is a complete, valid command line (no ``a | b`` or ``[--flag]`` shorthand
    that a user would copy and get a usage error for)."""
    build_parser().parse_args(shlex.split(line, comments=True)[1:])


def test_accuracy_example_prints_what_the_readme_shows(faces_dir: Path) -> None:
    """``known-faces evaluate ../shared/data/faces/people --seed 1`` from the repository root
    prints the README's block, warnings included."""
    text = section("Accuracy on the shared photos")
    command = re.search(r"`(known-faces evaluate [^`]+)`", text)
    assert command
    argv = shlex.split(command.group(1).replace("../shared/data/faces", str(faces_dir)))
    result = subprocess.run([sys.executable, "-m", "known_faces.cli", *argv[1:]], cwd=REPO,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).splitlines() == first_block(text).splitlines()
