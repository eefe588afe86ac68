"""The README opens with the architecture picture, and the picture is the one its Graphviz
source draws: `make docs-images` records the source's hash in the SVG, so an edit of the
source without a re-render fails here (no Graphviz or network needed to tell)."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

SOURCE = ROOT / "docs" / "images" / "architecture.dot"
PICTURE = ROOT / "docs" / "images" / "architecture.svg"
STAMP = re.compile(r"<!-- source (\S+) sha256 ([0-9a-f]{64}) -->")


def recorded_source_hash(svg: str) -> tuple[str, str]:
    """The (source path, sha256) that `make docs-images` wrote into the SVG."""
    found = STAMP.search(svg)
    if found is None:
        raise AssertionError(f"{PICTURE} has no source stamp: render it with `make docs-images`")
    return found.group(1), found.group(2)


def test_picture_is_rendered_from_the_current_source():
    path, digest = recorded_source_hash(PICTURE.read_text())
    assert path == str(SOURCE.relative_to(ROOT))
    assert digest == hashlib.sha256(SOURCE.read_bytes()).hexdigest(), (
        f"{PICTURE.name} is stale against {SOURCE.name}: run `make docs-images`"
    )


def test_a_changed_source_is_told_apart():
    """The check above can fail: one changed byte of the source gives another hash."""
    _, digest = recorded_source_hash(PICTURE.read_text())
    edited = SOURCE.read_bytes().replace(b"rankdir=LR", b"rankdir=TB")
    assert hashlib.sha256(edited).hexdigest() != digest


def test_picture_is_a_drawing_of_every_part():
    svg = ET.fromstring(PICTURE.read_bytes())
    text = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for part in ("operator", "edge gateway", "Kafka", "Spark", "PostgreSQL"):
        assert part in text, part


def test_readme_first_screen_says_what_it_is_and_how_to_start():
    readme = (ROOT / "README.md").read_text()
    first_screen = readme[: readme.index("## A SensorPipeline, walked through")]
    # The picture comes right after the opening paragraph, before any other section.
    assert first_screen.index("](docs/images/architecture.svg)") < first_screen.index("\n## ")
    for needed in (
        "Strimzi",
        "spark-operator",
        "topicBackend: admin",
        "helm install",
        "kubectl apply -f examples/",
        "kubectl get sp",
        "make demo",
        "make test",
    ):
        assert needed in first_screen, needed
    # Timings and benchmark tables live on their own page.
    assert "load average" not in first_screen
    assert "| figure |" not in readme
    assert "| figure |" in (ROOT / "docs" / "measurements.md").read_text()
