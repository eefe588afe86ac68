"""The SparkApplication's dynamic-allocation floor changes only as the policy says, driven by
the controller's poll against the real API server and the real broker.

No spark-operator runs here, so the job is played by a real consumer group committing under
``<pipeline>.spark`` (the group the Spark job commits its processed offsets to, contracts §6)
at a pace proportional to the SparkApplication's executors.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from sensorpipe_contract.naming import spark_group
from sensorpipe_operator.scaling.actuate import (
    SPARK_APPLICATIONS,
    spark_executors,
)
from sensorpipe_operator.scaling.controller import PipelineMemory
from sensorpipe_operator.scaling.targets import SPARK_RESTART_COST
from tests.integration.scaling.conftest import (
    SlowGroup,
    create_pipeline,
    create_topic,
    make_controller,
    pipeline_spec,
    produce,
)

pytestmark = pytest.mark.integration

PARTITIONS = 6
POLL = 1.0
SCALING = {
    "minReplicas": 1,
    "maxReplicas": 6,
    "lagThreshold": 100,
    "activationLag": 20,
    "pollInterval": "1s",
    "catchUpTime": "30s",
    "scaleDownStabilization": "10s",
    "cooldown": "1s",
}


def test_spark_floor_moves_only_when_the_backlog_pays_for_a_restart(
    stack, api, admin, kafka_bootstrap, kube_namespace, unique_name
):
    name = unique_name
    body, pipeline = create_pipeline(
        api, kube_namespace, name, pipeline_spec(kafka_bootstrap, SCALING, target="spark")
    )
    topic = pipeline.stream_topic(pipeline.streams[0])
    create_topic(admin, topic, PARTITIONS)
    custom = client.CustomObjectsApi(api)
    app_name = f"{name}-processing"

    def app() -> dict[str, Any]:
        obj: dict[str, Any] = custom.get_namespaced_custom_object(
            SPARK_APPLICATIONS.group,
            SPARK_APPLICATIONS.version,
            kube_namespace,
            SPARK_APPLICATIONS.plural,
            app_name,
        )
        return obj

    def executors() -> int:
        return spark_executors(app())

    assert executors() == 1
    controller = make_controller(api)
    memory = PipelineMemory()
    seen: list[
        tuple[dict[str, Any], int, int]
    ] = []  # (decision, executors before, executors after)

    def poll_until(done, polls: int) -> None:
        for _ in range(polls):
            before = executors()
            status = None
            while status is None:  # not due yet: the controller keeps its own interval
                status = controller.poll(body, memory)
                time.sleep(0.1)
            seen.append((status["targets"][0]["lastDecision"], before, executors()))
            if done():
                return

    # 1. A backlog one executor (20 records/s) drains within the catch-up time: no restart.
    produce(kafka_bootstrap, topic, 300, PARTITIONS)
    with SlowGroup(kafka_bootstrap, spark_group(pipeline.name), topic, executors, rate=20) as job:
        poll_until(lambda: job.consumed >= 300, polls=40)
        assert executors() == 1
        # 2. A backlog it would take minutes to drain: worth the restart once the rate is known.
        produce(kafka_bootstrap, topic, 12000, PARTITIONS)
        poll_until(lambda: executors() > 1, polls=30)
    assert executors() > 1

    reasons = [d["reason"] for d, _, _ in seen]
    assert "RestartNotJustified" in reasons
    for decision, before, after in seen:
        if decision["action"] == "hold":
            assert after == before, decision
        else:
            assert (decision["from"], decision["to"]) == (before, after), decision
            assert decision["to"] - decision["from"] >= 2  # Spark moves in larger steps
            assert f"restart cost {SPARK_RESTART_COST:g}s" in decision["message"]
    changes = [d for d, _, _ in seen if d["action"] != "hold"]
    assert len(changes) == 1  # the restart's cool-down holds any further change

    spec = app()["spec"]["dynamicAllocation"]
    assert spec["minExecutors"] == spec["initialExecutors"] == executors()
    assert spec["maxExecutors"] == SCALING["maxReplicas"]  # Spark's own headroom is untouched
