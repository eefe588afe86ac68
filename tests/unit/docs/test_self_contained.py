"""The docs and the code's comments stand alone: they cite files of this repository only,
never the steering repository's papers beside it, which a reader of this one does not have."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

OUTSIDE = re.compile(r"\.\./shared|\bDESIGN\.md\b|\bSTACK\.md\b")


def test_nothing_cites_papers_outside_this_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.md", "*.py", "*.sh", "*.yaml", "*.toml", "Makefile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    this_file = "tests/unit/docs/test_self_contained.py"
    found = [
        f"{path}:{n}: {line.strip()}"
        for path in tracked
        if path != this_file
        for n, line in enumerate((ROOT / path).read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not found, "\n".join(found)
