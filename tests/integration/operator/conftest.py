"""Fixtures of the operator's integration tests: the operator runs as a real process under a
ServiceAccount bound to exactly the chart's RBAC rules, watching the test's namespace, and the
gateways and consumers it creates run as pods on the real node from the images built here."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sensorpipe_operator.kube import Kube

from .harness import (
    admin_kube,
    service_account_kubeconfig,
    spark_driver_cluster_role,
)
from .operator_process import OperatorProcess


@pytest.fixture(scope="session")
def admin(stack: dict[str, str]) -> Kube:
    return admin_kube(stack)


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: dict[str, str]) -> str:
    """Kafka as these suites' pipelines name it: the listener that pods on the real node reach
    (the host reaches it too, so the operator's admin backend and lag reads use it as well)."""
    return stack["POD_KAFKA_BOOTSTRAP"]


@pytest.fixture(scope="session")
def operator_identity(
    stack: dict[str, str], admin: Kube, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    return service_account_kubeconfig(stack, admin, tmp_path_factory.mktemp("operator"))


@pytest.fixture(scope="module")
def spark_driver_role(admin: Kube) -> Iterator[dict[str, Any]]:
    """The chart's ClusterRole for Spark drivers, which the operator binds to each pipeline's
    driver account: without it the binding exists but grants nothing."""
    with spark_driver_cluster_role(admin) as role:
        yield role


@pytest.fixture
def operator(
    operator_identity: tuple[Path, str],
    kube_namespace: str,
    tmp_path: Path,
    node_images: dict[str, str],
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        operator_identity[0], [kube_namespace], tmp_path / "operator.log", images=node_images
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def shared_namespace(admin: Kube) -> Iterator[str]:
    """One namespace for a module's tests, which then share one operator (each test uses
    its own pipeline names): starting an operator costs seconds on a loaded machine."""
    name = f"op-shared-{secrets.token_hex(3)}"
    core = client.CoreV1Api(admin.api)
    core.create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        core.delete_namespace(name)


@pytest.fixture(scope="module")
def shared_operator(
    operator_identity: tuple[Path, str],
    shared_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
    node_images: dict[str, str],
) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("shared-operator") / "operator.log"
    proc = OperatorProcess(operator_identity[0], [shared_namespace], log, images=node_images)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
