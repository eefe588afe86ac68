"""The autoscaler, run by the real kopf timer, scales a consumer Deployment on the real broker's
lag: up while a real, slow consumer group works through a backlog on a 6-partition topic, back
down after the stabilisation window once it has drained, never beyond the partition count."""

from __future__ import annotations

import threading
from typing import Any

import kopf
import pytest
from kopf.testing import KopfRunner
from kubernetes import client
from prometheus_client import REGISTRY

from sensorpipe_contract.identity import GROUP, PLURAL, VERSION
from sensorpipe_operator.scaling import handlers
from tests.conftest import wait_until
from tests.integration.scaling.conftest import (
    API_ERRORS,
    SlowGroup,
    create_pipeline,
    create_topic,
    pipeline_spec,
    produce,
)

pytestmark = pytest.mark.integration

PARTITIONS = 6
POLL = 2  # seconds
SCALING = {
    "minReplicas": 1,
    "maxReplicas": 10,  # above the partition count: the partitions must cap it
    "lagThreshold": 200,
    "activationLag": 50,
    "pollInterval": f"{POLL}s",
    "catchUpTime": "10s",
    "scaleUpStabilization": "0s",
    "scaleDownStabilization": "12s",
    "cooldown": "2s",
    "maxScaleDownStep": 1,
}


class StatusLog:
    """Every distinct ``status.scaling`` the operator writes (one per poll), read from the API
    server alongside the test, with the Deployment's replicas at that moment."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str, deployment: str):
        self._custom = client.CustomObjectsApi(api)
        self._apps = client.AppsV1Api(api)
        self._args = (GROUP, VERSION, namespace, PLURAL, name)
        self._namespace = namespace
        self._deployment = deployment
        self.polls: list[dict[str, Any]] = []
        self.replicas_seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def replicas(self) -> int:
        scale = self._apps.read_namespaced_deployment_scale(self._deployment, self._namespace)
        return int(scale.spec.replicas or 0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                obj = self._custom.get_namespaced_custom_object(*self._args)
                replicas = self.replicas()
            except API_ERRORS:  # the shared API server restarting: read again
                self._stop.wait(0.2)
                continue
            scaling = (obj.get("status") or {}).get("scaling")
            if scaling and (not self.polls or scaling != self.polls[-1]):
                self.polls.append(scaling)
            self.replicas_seen.append(replicas)
            self._stop.wait(0.2)

    def __enter__(self) -> StatusLog:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


def scaling_events(api: client.ApiClient, namespace: str) -> list[Any]:
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return sorted(
        (e for e in events if e.reason in ("ScaleUp", "ScaleDown")),
        key=lambda e: e.first_timestamp,
    )


def test_kopf_timer_scales_consumers_up_with_backlog_and_down_after_it_drains(
    stack, api, admin, kafka_bootstrap, kube_namespace, unique_name, caplog
):
    name = unique_name
    spec = pipeline_spec(kafka_bootstrap, SCALING)
    _, pipeline = create_pipeline(api, kube_namespace, name, spec)
    consumer = pipeline.consumers[0]
    deployment = f"{name}-consumer-{consumer.name}"
    create_topic(admin, pipeline.alerts_topic, PARTITIONS)
    produce(kafka_bootstrap, pipeline.alerts_topic, 3600, PARTITIONS)

    # The autoscaler's handlers alone, in a registry of this test's own, logging in from
    # $KUBECONFIG as the stack fixture set it (kopf's default login reads the path the
    # kubernetes package saw at import, before the fixture ran).
    registry = kopf.OperatorRegistry()
    handlers.register(registry)
    kopf.on.login(registry=registry)(kopf.login_with_kubeconfig)
    args = ["run", "--standalone", "--namespace", kube_namespace]
    with (
        StatusLog(api, kube_namespace, name, deployment) as log,
        SlowGroup(
            kafka_bootstrap,
            pipeline.consumer_group(consumer),
            pipeline.alerts_topic,
            replicas=log.replicas,
            rate=60,
        ) as group,
        KopfRunner(args, registry=registry) as runner,
    ):
        wait_until("a scale-up", lambda: log.replicas() > 1, timeout=60)
        wait_until("the backlog to drain", lambda: group.consumed >= 3600, timeout=120)
        wait_until("scaling back down to 1", lambda: log.replicas() == 1, timeout=90)
        # One more poll, to see that it stays there: it reports the scale it found.
        wait_until(
            "a poll that found 1 replica",
            lambda: log.polls and log.polls[-1]["currentReplicas"] == 1,
            timeout=3 * POLL,
        )
    assert runner.exception is None, runner.stdout[-3000:]
    # Every status patch applied as written (a null in it would make kopf report otherwise).
    assert not [r for r in caplog.records if "inconsistencies" in r.getMessage()]

    # Up within two poll intervals: the first or second poll that saw the backlog scaled.
    first_with_backlog = next(
        i for i, p in enumerate(log.polls) if p["totalLag"] >= SCALING["lagThreshold"]
    )
    first_up = next(
        i
        for i, p in enumerate(log.polls)
        if p["targets"][0]["lastDecision"]["action"] == "scale-up"
    )
    assert first_up - first_with_backlog <= 1, log.polls[: first_up + 1]

    # Never above the partition count, though maxReplicas is 10.
    assert max(log.replicas_seen) <= PARTITIONS
    assert group.max_members <= PARTITIONS
    assert max(p["desiredReplicas"] for p in log.polls) <= PARTITIONS

    # Down only after the stabilisation window, one replica at a time, with an Event each.
    events = scaling_events(api, kube_namespace)
    ups = [e for e in events if e.reason == "ScaleUp"]
    downs = [e for e in events if e.reason == "ScaleDown"]
    assert ups
    assert downs
    last_up = ups[-1].first_timestamp
    assert (downs[0].first_timestamp - last_up).total_seconds() >= 12
    for event in downs:
        before, after = event.message.split(": ")[1].split(" -> ")
        assert int(before) - int(after) == 1, event.message

    # The status carries lag per group, rates, scale and the last decision with its reason.
    target = log.polls[-1]["targets"][0]
    assert target["group"] == pipeline.consumer_group(consumer)
    assert target["partitions"] == PARTITIONS
    assert "inputRate" in target
    assert "consumptionRate" in target
    assert target["capacityPerReplica"] > 0
    assert target["currentReplicas"] == 1
    assert target["lastScale"]["reason"] == "ScaleDown"
    assert target["lastDecision"]["reason"] in ("BelowActivation", "Steady")

    # A Prometheus sample per action, in the operator's process (KopfRunner runs it here).
    for direction, reason, listed in (
        ("scale-up", "ScaleUp", ups),
        ("scale-down", "ScaleDown", downs),
    ):
        labels = {
            "namespace": kube_namespace,
            "pipeline": name,
            "target": deployment,
            "direction": direction,
            "reason": reason,
        }
        assert REGISTRY.get_sample_value("sensorpipe_scaling_actions_total", labels) == len(listed)
