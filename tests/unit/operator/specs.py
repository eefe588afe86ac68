"""Spec dicts the operator's unit tests share: the full example of docs/contracts.md §1 and
the smallest valid spec."""

from __future__ import annotations

import copy
from typing import Any

from tests.streams import HOT_THRESHOLD

FULL: dict[str, Any] = {
    "kafka": {
        "clusterRef": "sensors",
        "bootstrapServers": "sensors-kafka-bootstrap:9092",
        "topicBackend": "strimzi",
        "authentication": {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}},
        "topicDefaults": {
            "partitions": 6,
            "replicas": 3,
            "retention": "7d",
            "minInSyncReplicas": 2,
        },
        "topics": {"deadLetter": "", "aggregates": "", "alerts": ""},
        "deleteTopicsWithPipeline": False,
    },
    "streams": [
        {
            "name": "climate",
            "topic": "",
            "partitions": 0,
            "fields": [
                {"name": "temperature", "type": "number", "unit": "Cel", "min": -40, "max": 80},
                {"name": "humidity", "type": "number", "unit": "%", "min": 0, "max": 100},
            ],
        },
        {
            "name": "distance",
            "fields": [{"name": "distance", "type": "number", "unit": "cm", "min": 2, "max": 400}],
        },
        {"name": "motion", "fields": [{"name": "motion", "type": "boolean"}]},
    ],
    "gateways": [
        {
            "name": "bench",
            "source": {"type": "serial", "serial": {"device": "/dev/ttyUSB0", "baudRate": 115200}},
            "replicas": 1,
            "image": "",
            "nodeSelector": {"sensorpipe.dev/edge": "true"},
            "tolerations": [],
            "resources": {
                "requests": {"cpu": "50m", "memory": "64Mi"},
                "limits": {"memory": "256Mi"},
            },
        }
    ],
    "processing": {
        "image": "",
        "sparkVersion": "4.2.0",
        "triggerInterval": "10s",
        "window": "15m",
        "watermark": "10m",
        "driver": {"cores": 1, "memory": "1g"},
        "executor": {"instances": 1, "cores": 1, "memory": "2g"},
        "checkpointPath": "",
        "alerts": {
            "thresholds": [HOT_THRESHOLD],
            "anomaly": {"enabled": True, "zScore": 3.5, "history": "1h", "minSamples": 20},
            "jump": {
                "enabled": True,
                "maxDelta": {"temperature": 10, "humidity": 30, "distance": 150},
            },
            "stuck": {"enabled": True, "after": "10m"},
            "silence": {"enabled": True, "after": "5m"},
        },
        "sinks": {
            "lake": {"format": "delta", "path": "/data/lake"},
            "postgres": {"secretRef": {"name": "pg", "key": "dsn"}, "table": "sensor_aggregates"},
            "aggregatesTopic": True,
        },
    },
    "consumers": [{"name": "notifier", "type": "alert-notifier", "replicas": 1}],
    "scaling": {
        "enabled": True,
        "target": "consumers",
        "minReplicas": 1,
        "maxReplicas": 6,
        "lagThreshold": 1000,
        "activationLag": 100,
        "pollInterval": "10s",
        "catchUpTime": "60s",
        "scaleUpStabilization": "0s",
        "scaleDownStabilization": "120s",
        "cooldown": "30s",
        "maxScaleDownStep": 1,
    },
}

MINIMAL: dict[str, Any] = {
    "kafka": {"clusterRef": "sensors", "bootstrapServers": "kafka:9092"},
    "streams": [{"name": "climate", "fields": [{"name": "temperature"}]}],
}


def full() -> dict[str, Any]:
    return copy.deepcopy(FULL)


def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)


def with_change(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``spec`` with the value at a dotted path (list indexes as numbers) replaced;
    the value None deletes the key."""
    out = copy.deepcopy(spec)
    parts = path.split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if value is None:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out
