"""Fixtures of the chart's integration tests: helm and kubectl against the real local API server.

One namespace-scoped release is installed per module and shared by its tests (a `helm install`
is the expensive step); tests that must install or uninstall for themselves use their own
release names, so nothing here collides with another test or another engineer's run.
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from deploy.render import CHART
from sensorpipe_operator.builders.rolebinding import SPARK_DRIVER_CLUSTER_ROLE
from tests.conftest import child_images, kubectl
from tests.node import REAL_NODE_PLACEMENT


def helm(*args: str, check: bool = True) -> str:
    """Run the stack's helm; on failure the test fails with helm's own message."""
    proc = subprocess.run(["helm", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str  # where the operator runs
    watched: str  # the namespace it watches (a Role there, nothing cluster-wide)

    @property
    def fullname(self) -> str:
        return f"{self.name}-sensorpipe"

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.fullname}"


def real_node_values(node_images: dict[str, str]) -> dict[str, Any]:
    """Values that run the operator on the stack's real node from the images built here (no
    registry, so never pulled), creating children from those images too."""
    return {
        "image": {
            "repository": node_images["image.repository"],
            "tag": node_images["image.tag"],
            "pullPolicy": "Never",
        },
        "childImages": child_images(node_images),
        "operator": REAL_NODE_PLACEMENT,
    }


def install(release: Release, node_images: dict[str, str], *values: str) -> str:
    """`helm install --wait` with the operator on the real node: its pod must run and pass
    its readiness probe.

    The Spark driver's ClusterRole has a fixed name, so where another release already made it
    (the release hack/kind-e2e.sh installs before running these tests on kind) this one leaves
    it to that release, as a user's second release must; on the local stack there is none.
    """
    if kubectl("get", "clusterrole", SPARK_DRIVER_CLUSTER_ROLE, "--ignore-not-found").strip():
        values = (*values, "--set", "rbac.sparkDriverRole=false")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as node_values:
        yaml.safe_dump(real_node_values(node_images), node_values)
        node_values.flush()
        return helm(
            "install", release.name, str(CHART), "--namespace", release.namespace,
            "--values", node_values.name, "--wait", "--timeout", "180s", *values,
        )  # fmt: skip


@pytest.fixture(scope="module")
def namespaced_release(stack: dict[str, str], node_images: dict[str, str]) -> Iterator[Release]:
    """The chart installed with defaults but watching one namespace, as a tenant would."""
    suffix = secrets.token_hex(3)
    release = Release(f"sp{suffix}", f"chart-op-{suffix}", f"chart-iot-{suffix}")
    for ns in (release.namespace, release.watched):
        kubectl("create", "namespace", ns)
    try:
        install(
            release,
            node_images,
            "--set", "watch.scope=namespaces",
            "--set", f"watch.namespaces[0]={release.watched}",
        )  # fmt: skip
        yield release
    finally:
        helm("uninstall", release.name, "-n", release.namespace, check=False)
        for ns in (release.namespace, release.watched):
            kubectl("delete", "namespace", ns, "--wait=false", check=False)
