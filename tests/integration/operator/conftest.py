"""Fixtures of the operator's integration tests: the operator runs as a real process under a
ServiceAccount bound to exactly the chart's RBAC rules, watching the test's namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sensorpipe_operator.kube import Kube

from .harness import OperatorProcess, admin_kube, service_account_kubeconfig


@pytest.fixture(scope="session")
def admin(stack: dict[str, str]) -> Kube:
    return admin_kube(stack)


@pytest.fixture(scope="session")
def operator_identity(
    stack: dict[str, str], admin: Kube, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    return service_account_kubeconfig(stack, admin, tmp_path_factory.mktemp("operator"))


@pytest.fixture
def operator(
    operator_identity: tuple[Path, str], kube_namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(operator_identity[0], [kube_namespace], tmp_path / "operator.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
