"""Making every scaling action visible: a Kubernetes Event on the pipeline and Prometheus
metrics (the chart's dashboard reads ``sensorpipe_consumer_lag`` and
``sensorpipe_scale_current``/``_desired``).

Events are written with the plain API client rather than kopf's event queue, so the same code
posts them whether the timer runs inside kopf or a test drives the controller directly.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from prometheus_client import Counter, Gauge

from sensorpipe_operator.scaling.policy import Decision
from sensorpipe_operator.scaling.status import TargetReport, timestamp

COMPONENT = "sensorpipe-operator"

ACTIONS = Counter(
    "sensorpipe_scaling_actions",
    "Scaling actions taken by the autoscaler",
    ["namespace", "pipeline", "target", "direction", "reason"],
)
PER_GROUP = ["namespace", "pipeline", "group"]
PER_TARGET = ["namespace", "pipeline", "target"]
LAG = Gauge("sensorpipe_consumer_lag", "Records a consumer group has not consumed", PER_GROUP)
INPUT_RATE = Gauge(
    "sensorpipe_consumer_input_rate", "Records/s arriving on a group's topics", PER_GROUP
)
CONSUMPTION_RATE = Gauge(
    "sensorpipe_consumer_consumption_rate", "Records/s a consumer group commits", PER_GROUP
)
SCALE_CURRENT = Gauge(
    "sensorpipe_scale_current", "Replicas or executors of a scaled target now", PER_TARGET
)
SCALE_DESIRED = Gauge(
    "sensorpipe_scale_desired", "Replicas or executors the autoscaler wants", PER_TARGET
)


def record_metrics(namespace: str, pipeline: str, report: TargetReport) -> None:
    """Gauges for one target's poll; figures that are unknown (broker down) are left as
    they were rather than set to zero, which would read as "no lag"."""
    obs = report.observation
    group = report.target.group
    if obs.reachable:
        LAG.labels(namespace, pipeline, group).set(obs.total_lag)
        if obs.input_rate is not None:
            INPUT_RATE.labels(namespace, pipeline, group).set(obs.input_rate)
        if obs.consumption_rate is not None:
            CONSUMPTION_RATE.labels(namespace, pipeline, group).set(obs.consumption_rate)
    if report.current is not None:
        SCALE_CURRENT.labels(namespace, pipeline, report.target.name).set(report.current)
    if report.decision is not None:
        SCALE_DESIRED.labels(namespace, pipeline, report.target.name).set(report.decision.desired)


def event_body(owner: dict[str, Any], target: str, decision: Decision) -> dict[str, Any]:
    """A core/v1 Event on the pipeline for one scaling action."""
    meta = owner["metadata"]
    when = timestamp(decision.time)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.scaling-", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "reason": str(decision.reason),
        "message": f"{target}: {decision.message}"[:1024],
        "type": "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }


def announce(api: client.ApiClient, owner: dict[str, Any], target: str, decision: Decision) -> None:
    """Post the Event and count the action."""
    meta = owner["metadata"]
    client.CoreV1Api(api).create_namespaced_event(
        meta["namespace"], event_body(owner, target, decision)
    )
    ACTIONS.labels(
        meta["namespace"], meta["name"], target, decision.action, str(decision.reason)
    ).inc()
