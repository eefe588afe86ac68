"""The pure shapes around the policy: targets from the spec, the Spark patch, status.scaling,
the Event body, and resuming after an operator restart."""

from __future__ import annotations

from typing import Any

import pytest

from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.actuate import spark_executors, spark_patch
from sensorpipe_operator.scaling.controller import PipelineMemory, resume
from sensorpipe_operator.scaling.policy import Decision, PolicyState, Reason
from sensorpipe_operator.scaling.publish import event_body
from sensorpipe_operator.scaling.status import TargetOutcome, scaling_status, timestamp
from sensorpipe_operator.scaling.targets import (
    SPARK_MIN_STEP,
    SPARK_RESTART_COST,
    Kind,
    targets,
)
from sensorpipe_operator.scaling.window import RateWindow, Snapshot

pytestmark = pytest.mark.unit


def spec(target: str = "consumers", enabled: bool = True) -> dict[str, Any]:
    return {
        "kafka": {"bootstrapServers": "k:9092", "topicBackend": "admin"},
        "streams": [
            {"name": "climate", "fields": [{"name": "t", "type": "number"}]},
            {"name": "motion", "fields": [{"name": "m", "type": "boolean"}]},
        ],
        "processing": {"triggerInterval": "5s"},
        "consumers": [{"name": "notifier", "type": "alert-notifier"}],
        "scaling": {
            "enabled": enabled,
            "target": target,
            "pollInterval": "3s",
            "scaleDownStabilization": "60s",
        },
    }


def test_consumer_targets_follow_the_operator_names_and_groups():
    (t,) = targets(parse(spec(), "farm", "iot"))
    assert t.kind is Kind.DEPLOYMENT
    assert t.name == "farm-consumer-notifier"
    assert t.group == "farm.notifier"
    assert t.topics == ("farm.alerts",)
    assert t.config.poll_interval == 3
    assert t.config.scale_down_stabilization == 60
    assert t.config.restart_cost == 0
    assert t.config.min_step == 1


def test_spark_target_reads_the_stream_topics_and_pays_for_restarts():
    (t,) = targets(parse(spec("spark"), "farm", "iot"))
    assert t.kind is Kind.SPARK
    assert t.name == "farm-processing"
    assert t.group == "farm.spark"
    assert t.topics == ("farm.climate", "farm.motion")
    assert t.config.restart_cost == SPARK_RESTART_COST
    assert t.config.min_step == SPARK_MIN_STEP
    assert t.config.commit_interval == 5  # one commit per micro-batch


def test_nothing_is_scaled_when_scaling_is_off():
    assert targets(parse(spec(enabled=False), "farm", "iot")) == ()


def test_spark_patch_moves_the_dynamic_allocation_floor_and_keeps_the_ceiling():
    app = {"spec": {"dynamicAllocation": {"enabled": True, "minExecutors": 1, "maxExecutors": 6}}}
    assert spark_executors(app) == 1
    assert spark_patch(app, 4) == {
        "spec": {"dynamicAllocation": {"minExecutors": 4, "initialExecutors": 4}}
    }
    # A floor above the ceiling lifts the ceiling, or Spark would refuse the bounds.
    assert spark_patch(app, 8)["spec"]["dynamicAllocation"]["maxExecutors"] == 8


def test_spark_without_dynamic_allocation_is_scaled_by_instances():
    app = {"spec": {"executor": {"instances": 2}}}
    assert spark_executors(app) == 2
    assert spark_patch(app, 3) == {"spec": {"executor": {"instances": 3}}}


def decision(action_to: int, reason: Reason = Reason.SCALE_UP) -> Decision:
    return Decision(100.0, 1, action_to, action_to, reason, f"1 -> {action_to}: because")


def test_status_carries_lag_rates_scale_and_the_last_decision():
    (t,) = targets(parse(spec(), "farm", "iot"))
    w = RateWindow(30)
    w.add(
        Snapshot.from_dict(
            {
                "time": 90,
                "group": t.group,
                "partitions": [{"topic": "farm.alerts", "partition": 0, "end": 0, "committed": 0}],
            }
        )
    )
    obs = w.add(
        Snapshot.from_dict(
            {
                "time": 100,
                "group": t.group,
                "partitions": [
                    {"topic": "farm.alerts", "partition": 0, "end": 500, "committed": 100}
                ],
            }
        )
    )
    state = PolicyState(capacity=12.5, capacity_measured=True)
    outcome = TargetOutcome(t, obs, 1, decision(3), state, {"from": 1, "to": 3})
    status = scaling_status("consumers", [outcome], 100.0)
    assert status["totalLag"] == 400
    assert status["currentReplicas"] == 1
    assert status["desiredReplicas"] == 3
    assert status["brokerReachable"] is True
    assert status["lastDecision"]["reason"] == "ScaleUp"
    assert status["lastDecision"]["time"] == timestamp(100.0) == "1970-01-01T00:01:40Z"
    (entry,) = status["targets"]
    assert entry["group"] == "farm.notifier"
    assert entry["lagByTopic"] == [{"topic": "farm.alerts", "lag": 400}]
    assert entry["inputRate"] == 50.0
    assert entry["consumptionRate"] == 10.0
    assert entry["capacityPerReplica"] == 12.5
    assert entry["capacityMeasured"] is True
    assert entry["lastScale"] == {"from": 1, "to": 3}


def test_status_of_a_target_not_created_yet_has_no_decision():
    (t,) = targets(parse(spec(), "farm", "iot"))
    obs = RateWindow(30).add(Snapshot(time=5, group=t.group))
    status = scaling_status(
        "consumers", [TargetOutcome(t, obs, None, None, PolicyState(), None)], 5
    )
    assert "lastDecision" not in status
    assert "currentReplicas" not in status["targets"][0]
    assert "lastDecision" not in status["targets"][0]
    assert None not in status["targets"][0].values()  # a null would delete in a merge patch


def test_event_names_the_pipeline_and_the_action():
    owner = {
        "apiVersion": "iot.sensorpipe.dev/v1alpha1",
        "kind": "SensorPipeline",
        "metadata": {"name": "farm", "namespace": "iot", "uid": "u-1"},
    }
    body = event_body(owner, "farm-consumer-notifier", decision(3))
    assert body["involvedObject"]["uid"] == "u-1"
    assert body["involvedObject"]["kind"] == "SensorPipeline"
    assert body["reason"] == "ScaleUp"
    assert body["message"] == "farm-consumer-notifier: 1 -> 3: because"
    assert body["metadata"]["namespace"] == "iot"


def test_resume_restores_the_last_action_so_a_restart_keeps_cool_down_and_direction():
    (t,) = targets(parse(spec(), "farm", "iot"))
    last = {"from": 4, "to": 3, "reason": "ScaleDown", "time": "1970-01-01T00:01:40Z"}
    entry = {"name": t.name, "lastScale": last, "capacityPerReplica": 42.0, "capacityMeasured": 1}
    restored, state = resume(t, {"scaling": {"targets": [entry]}})
    assert restored == last
    assert state.last_change == 100.0
    assert state.last_direction == -1
    assert (state.capacity, state.capacity_measured) == (42.0, True)
    assert resume(t, {}) == (None, PolicyState())


def test_memory_polls_each_pipeline_at_its_own_interval():
    memory = PipelineMemory()
    assert memory.due(0.0, 3.0)
    memory.last_poll = 0.0
    assert not memory.due(2.0, 3.0)
    assert memory.due(3.0, 3.0)
