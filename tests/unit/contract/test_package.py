"""The contract package stays dependency-free, so the gateway and Spark images carry it
without the operator's Kubernetes stack, and each image installs it."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "contract"
OPERATOR_ONLY = ("kopf", "kubernetes")


def _dependencies(component: str) -> list[str]:
    return list(
        tomllib.loads((ROOT / component / "pyproject.toml").read_text())["project"]["dependencies"]
    )


def test_the_contract_needs_only_the_standard_library():
    assert _dependencies("contract") == []
    for path in sorted((CONTRACT / "sensorpipe_contract").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    assert top in sys.stdlib_module_names or top == "sensorpipe_contract", (
                        f"{path.name} imports {name}"
                    )


@pytest.mark.parametrize("component", ["edge", "spark_apps"])
def test_the_edge_and_spark_images_carry_the_contract_and_not_the_operators_stack(component: str):
    deps = _dependencies(component)
    assert any(d.startswith("sensorpipe-contract") for d in deps)
    assert not [d for d in deps if d.split("=")[0].split("[")[0] in OPERATOR_ONLY]
    text = (ROOT / component / "Dockerfile").read_text()
    assert "COPY contract/sensorpipe_contract" in text
    assert "./contract" in text
