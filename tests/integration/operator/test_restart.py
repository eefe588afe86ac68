"""An operator killed in the middle of creating children converges after a restart, with no
duplicate and no orphaned child."""

from __future__ import annotations

from typing import Any

import pytest

from sensorpipe_operator.builders import desired_children
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.settings import Images
from tests.node import KWOK_PLACEMENT

from .harness import children, create_pipeline, pipeline, wait_for

pytestmark = pytest.mark.integration


def test_killed_mid_reconcile_then_restarted_converges(
    admin, kube_namespace, kafka_bootstrap, operator
):
    streams = [{"name": f"s{i}", "fields": [{"name": "v"}]} for i in range(12)]
    gateways = [
        {
            "name": f"g{i}",
            "source": {"type": "simulated"},
            **KWOK_PLACEMENT,
        }
        for i in range(6)
    ]
    # What is checked is the children the operator writes, not pods that run: kwok's node
    # takes the seven pods.
    manifest = pipeline(
        "big",
        kube_namespace,
        kafka_bootstrap,
        placement=KWOK_PLACEMENT,
        streams=streams,
        gateways=gateways,
    )
    created = create_pipeline(admin, manifest)
    model = parse(manifest["spec"], "big", kube_namespace)
    want = {(c["kind"], c["metadata"]["name"]) for c in desired_children(model, Images())}

    wait_for(lambda: len(children(admin, kube_namespace, "big")) >= 1, 60, "first child", operator)
    operator.kill()
    partial = set(children(admin, kube_namespace, "big"))
    assert partial <= want
    operator.start()

    def converged() -> dict[tuple[str, str], dict[str, Any]] | None:
        now = children(admin, kube_namespace, "big")
        return now if set(now) == want else None

    found = wait_for(converged, 60, "all children after restart", operator)
    uid = created["metadata"]["uid"]
    owned = [obj for (kind, _), obj in found.items() if kind != "KafkaTopic"]
    assert all([r["uid"] for r in obj["metadata"]["ownerReferences"]] == [uid] for obj in owned)
