"""Making every scaling action visible: a Kubernetes Event on the pipeline and Prometheus
metrics (the chart's dashboard reads ``sensorpipe_consumer_lag``, the offset counters and
``sensorpipe_scale_current``/``_desired``).

Input and consumption are exported as counters (offsets summed over a group's partitions, as
read from Kafka) rather than rates worked out here, so Prometheus takes ``rate()`` over the
window a dashboard or alert chooses, and a missed scrape loses nothing.

Events are written through the process's ``Kube`` rather than kopf's event queue, so the same
code posts them whether the loop runs inside kopf or a test drives the controller directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from sensorpipe_operator.kube import EVENTS, Kube
from sensorpipe_operator.scaling.policy import Decision
from sensorpipe_operator.scaling.status import TargetOutcome, timestamp

COMPONENT = "sensorpipe-operator"

ACTIONS = Counter(
    "sensorpipe_scaling_actions",
    "Scaling actions taken by the autoscaler",
    ["namespace", "pipeline", "target", "direction", "reason"],
)
PER_GROUP = ["namespace", "pipeline", "group"]
PER_TARGET = ["namespace", "pipeline", "target"]
LAG = Gauge("sensorpipe_consumer_lag", "Records a consumer group has not consumed", PER_GROUP)


class OffsetCounters(Collector):
    """The newest offset sums per (namespace, pipeline, group), exposed as counters."""

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, str, str], tuple[int, int]] = {}

    def collect(self) -> Iterator[CounterMetricFamily]:
        appended = CounterMetricFamily(
            "sensorpipe_consumer_topic_records",
            "Records appended to a consumer group's topics (sum of log-end offsets)",
            labels=PER_GROUP,
        )
        committed = CounterMetricFamily(
            "sensorpipe_consumer_committed_records",
            "Records a consumer group has committed (sum of committed offsets)",
            labels=PER_GROUP,
        )
        for labels, (end, done) in self.offsets.items():
            appended.add_metric(list(labels), end)
            committed.add_metric(list(labels), done)
        yield appended
        yield committed


OFFSETS = OffsetCounters()
REGISTRY.register(OFFSETS)
SCALE_CURRENT = Gauge(
    "sensorpipe_scale_current", "Replicas or executors of a scaled target now", PER_TARGET
)
SCALE_DESIRED = Gauge(
    "sensorpipe_scale_desired", "Replicas or executors the autoscaler wants", PER_TARGET
)


def record_metrics(namespace: str, pipeline: str, outcome: TargetOutcome) -> None:
    """Gauges for one target's poll; figures that are unknown (broker down) are left as
    they were rather than set to zero, which would read as "no lag"."""
    obs = outcome.observation
    group = outcome.target.group
    if obs.reachable:
        LAG.labels(namespace, pipeline, group).set(obs.total_lag)
        OFFSETS.offsets[(namespace, pipeline, group)] = (obs.end_offsets, obs.committed_offsets)
    if outcome.current is not None:
        SCALE_CURRENT.labels(namespace, pipeline, outcome.target.name).set(outcome.current)
    if outcome.decision is not None:
        SCALE_DESIRED.labels(namespace, pipeline, outcome.target.name).set(outcome.decision.desired)


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


def announce(kube: Kube, owner: dict[str, Any], target: str, decision: Decision) -> None:
    """Post the Event and count the action."""
    meta = owner["metadata"]
    kube.create(EVENTS, meta["namespace"], event_body(owner, target, decision))
    ACTIONS.labels(
        meta["namespace"], meta["name"], target, decision.action, str(decision.reason)
    ).inc()
