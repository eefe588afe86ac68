"""Fixtures of the edge unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorpipe_edge.config import GatewayConfig, from_document
from tests.unit.edge.documents import pipeline_document


@pytest.fixture
def gateway_config(tmp_path: Path) -> GatewayConfig:
    return from_document(pipeline_document(), {"SENSORPIPE_SPOOL_DIR": str(tmp_path)})
