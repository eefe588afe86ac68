"""A broker that cannot be reached never scales anything down: the controller, against the real
API server, holds an over-provisioned consumer Deployment and says why in status."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from sensorpipe_operator.scaling.controller import PipelineMemory
from tests.integration.scaling.conftest import create_pipeline, make_controller, pipeline_spec

pytestmark = pytest.mark.integration

SCALING = {
    "minReplicas": 1,
    "maxReplicas": 6,
    "pollInterval": "1s",
    "scaleDownStabilization": "2s",
    "cooldown": "1s",
}


def test_unreachable_broker_holds_the_scale(stack, api, kube_namespace, unique_name):
    # Nothing listens on the discard port: every read fails as with a broker that is down.
    body, pipeline = create_pipeline(
        api, kube_namespace, unique_name, pipeline_spec("127.0.0.1:9", SCALING)
    )
    apps = client.AppsV1Api(api)
    deployment = f"{unique_name}-consumer-notifier"
    apps.patch_namespaced_deployment_scale(deployment, kube_namespace, {"spec": {"replicas": 4}})
    controller = make_controller(api, request_timeout=1.0)
    memory = PipelineMemory()
    statuses = []
    # Longer than the down window and cool-down together: with lag read as zero, it would
    # have scaled down by now.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = controller.poll(body, memory)
        if status is not None:
            statuses.append(status)
        time.sleep(0.2)

    assert len(statuses) >= 3
    for status in statuses:
        assert status["brokerReachable"] is False
        (target,) = status["targets"]
        assert target["lastDecision"]["reason"] == "BrokerUnreachable"
        assert target["lastDecision"]["action"] == "hold"
        assert target["currentReplicas"] == 4
        assert target["error"]
    scale = apps.read_namespaced_deployment_scale(deployment, kube_namespace)
    assert scale.spec.replicas == 4
    events = client.CoreV1Api(api).list_namespaced_event(kube_namespace).items
    assert not [e for e in events if e.reason in ("ScaleUp", "ScaleDown")]
