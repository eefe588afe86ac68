"""Fixtures of the operator's unit tests: the CRD's schema as the API server will read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

CRD = Path(__file__).resolve().parents[3] / "crds" / "sensorpipeline.yaml"


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRD.read_text())
    return data


@pytest.fixture(scope="session")
def crd_schema(crd) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema
