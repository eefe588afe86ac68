"""Runtime config documents as the operator renders them: for every example of examples/ and
for spec variants that reach every shape of the schema (integer fields, every alert kind, every
authentication kind, every source)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sensorpipe_contract.identity import KIND
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.model.pipeline import Pipeline, parse
from tests.unit.operator.specs import full, minimal, with_change

ROOT = Path(__file__).resolve().parents[3]
INTEGER_FIELDS = [
    {"name": "distance", "type": "integer", "unit": "cm", "min": 2, "max": 400},
    {"name": "echoes", "type": "integer"},
]
LOW = {"name": "cold", "stream": "climate", "field": "temperature", "below": -10}
MQTT = {
    "type": "mqtt",
    "mqtt": {
        "url": "tcp://mosquitto:1883",
        "topicFilter": "sensors/#",
        "qos": 1,
        "credentialsSecretRef": {"name": "mqtt"},
    },
    "payload": {"stream": "climate", "deviceId": "id", "time": "t", "timeUnit": "ms"},
}
KAFKA = {
    "type": "kafka",
    "kafka": {"topic": "iot_topic", "startFrom": "latest"},
    "payload": {"stream": "climate", "deviceId": "id", "seq": "n", "fields": {"humidity": "rh"}},
}
SIMULATED = {"type": "simulated", "simulated": {"devices": 3, "faults": {"spike": 0.1}}}


def _gateway(name: str, source: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "source": source}


VARIANTS: dict[str, dict[str, Any]] = {
    "full": full(),
    "minimal": minimal(),
    "integer-fields": with_change(full(), "streams.1.fields", INTEGER_FIELDS),
    "every-alert-kind": with_change(
        full(), "processing.alerts.thresholds", [*full()["processing"]["alerts"]["thresholds"], LOW]
    ),
    "alerts-off": with_change(
        full(),
        "processing.alerts",
        {k: {"enabled": False} for k in ("anomaly", "jump", "stuck", "silence")},
    ),
    "no-authentication": with_change(full(), "kafka.authentication", None),
    "scram-over-tls": with_change(full(), "kafka.authentication.tls", True),
    "mutual-tls": with_change(
        full(), "kafka.authentication", {"type": "tls", "secretRef": {"name": "user"}}
    ),
    "every-source": with_change(
        full(),
        "gateways",
        [*full()["gateways"], _gateway("m", MQTT), _gateway("k", KAFKA), _gateway("s", SIMULATED)],
    ),
    "no-sinks": with_change(
        with_change(full(), "processing.sinks.postgres", None),
        "processing.sinks.aggregatesTopic",
        False,
    ),
}


def example_pipelines() -> Iterator[tuple[str, Pipeline]]:
    """Every SensorPipeline of examples/, parsed by the operator's model."""
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == KIND:
                meta = doc["metadata"]
                name = f"{path.relative_to(ROOT)}:{meta['name']}"
                yield name, parse(doc["spec"], meta["name"], meta.get("namespace", "default"))


def pipelines() -> list[tuple[str, Pipeline]]:
    """The examples and the variants."""
    variants = [(f"variant:{k}", parse(spec, "farm", "iot")) for k, spec in VARIANTS.items()]
    return [*example_pipelines(), *variants]


def rendered(pipeline: Pipeline) -> list[dict[str, Any]]:
    """What the operator renders for the pipeline's children: Spark's and the consumers'
    document, then one per gateway."""
    return [rc.render(pipeline), *(rc.render(pipeline, g) for g in pipeline.gateways)]
