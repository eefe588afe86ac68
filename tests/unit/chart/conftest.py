"""The chart's unit tests: rendered with the helm that set-up builds into .cache/bin.

Tests that ask for the ``helm`` fixture are marked ``helm`` (tests/conftest.py), so that
``make test-unit`` can leave them out and need nothing but the virtual environment.
"""

from __future__ import annotations

import pytest

from deploy import render


@pytest.fixture(scope="session")
def helm() -> str:
    return render.find_helm()
