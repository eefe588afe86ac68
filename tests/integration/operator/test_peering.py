"""Two replicas with peering: only the one with the higher priority acts."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client

from .harness import children, create_pipeline, pipeline, wait_for
from .operator_process import OperatorProcess

pytestmark = pytest.mark.integration


def test_lower_priority_replica_pauses_and_the_other_acts(
    admin, operator_identity, kube_namespace, kafka_bootstrap, node_images, tmp_path: Path
):
    kubeconfig = operator_identity[0]
    high = OperatorProcess(
        kubeconfig,
        [kube_namespace],
        tmp_path / "high.log",
        extra=("--peering", "sp", "--priority", "200"),
        images=node_images,
    )
    low = OperatorProcess(
        kubeconfig,
        [kube_namespace],
        tmp_path / "low.log",
        extra=("--peering", "sp", "--priority", "100"),
        images=node_images,
    )
    high.start()
    low.start()
    try:
        # With peering, a replica starts paused and resumes only when no live peer outranks it.
        wait_for(
            lambda: "Resuming operations" in high.tail(200),
            60,
            "the high-priority replica to act",
            high,
        )
        create_pipeline(admin, pipeline("farm", kube_namespace, kafka_bootstrap))
        wait_for(
            lambda: len(children(admin, kube_namespace, "farm")) >= 10,
            60,
            "children from the active replica",
            high,
        )
        assert "Resuming operations" not in low.tail(500)
        peering = client.CustomObjectsApi(admin.api).get_namespaced_custom_object(
            "kopf.dev", "v1", kube_namespace, "kopfpeerings", "sp"
        )
        assert sorted(p["priority"] for p in peering["status"].values()) == [100, 200]
    finally:
        low.stop()
        high.stop()
