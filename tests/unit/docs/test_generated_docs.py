"""Generated documentation matches its source, so the docs never describe an older API."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit


def test_api_reference_is_generated_from_the_current_crd():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "hack" / "gen-api-docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_api_reference_documents_every_top_level_section():
    text = (ROOT / "docs" / "api.md").read_text()
    for section in (
        "spec.kafka",
        "spec.streams",
        "spec.gateways",
        "spec.processing",
        "spec.scaling",
        "status.conditions",
    ):
        assert f"`{section}`" in text, section
