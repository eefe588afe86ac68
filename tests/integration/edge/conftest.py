"""Fixtures of the edge integration tests: a pipeline's topics on the real broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.edge.helpers import GatewayProcess, create_pipeline


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], GatewayProcess]]:
    """Make gateway processes (not started) whose leftovers are killed after the test."""
    made: list[GatewayProcess] = []

    def make(doc: dict[str, Any], env: dict[str, str] | None = None) -> GatewayProcess:
        g = GatewayProcess(doc, tmp_path / f"gw{len(made)}", env)
        made.append(g)
        return g

    yield make
    for g in made:
        g.ensure_stopped()


@pytest.fixture
def simulated_pipeline(kafka_bootstrap: str, unique_name: str) -> dict[str, Any]:
    """Topics and document of a pipeline whose gateway simulates 10 devices at 5 Hz."""
    source = {
        "type": "simulated",
        "simulated": {"devices": 10, "interval": 0.2, "duration": 0, "seed": 5, "faults": {}},
    }
    return create_pipeline(kafka_bootstrap, unique_name, source)
