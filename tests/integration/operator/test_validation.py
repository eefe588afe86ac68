"""Invalid SensorPipelines are refused by the real API server (CRD schema and CEL rules) with
a message that names the field, through `kubectl apply --server-side` as a user would."""

from __future__ import annotations

import copy
import subprocess
from typing import Any

import pytest

from sensorpipe_operator import crdcheck
from sensorpipe_operator.manifest import admit
from sensorpipe_operator.model.errors import SpecError

from .harness import kubectl_apply, pipeline

pytestmark = pytest.mark.integration
BOOT = "kafka:9092"


def _set(spec: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = spec
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


_DELETE = object()
SERIAL = {"name": "bench", "source": {"type": "serial", "serial": {"device": "/dev/ttyUSB0"}}}
THRESHOLD = {"name": "hot", "stream": "climate", "field": "temperature", "above": 70}
NO_LIMIT = {k: v for k, v in THRESHOLD.items() if k != "above"}

CASES = [
    ("kafka", _DELETE, "spec.kafka: Required value"),
    ("streams", _DELETE, "spec.streams: Required value"),
    ("streams", [], "spec.streams"),
    ("kafka.topicBackend", "zookeeper", "spec.kafka.topicBackend: Unsupported value"),
    ("kafka.bootstrapServers", "kafka", "spec.kafka.bootstrapServers"),
    ("kafka.clusterRef", _DELETE, "spec.kafka.clusterRef"),
    ("kafka.topicDefaults.partitions", 0, "spec.kafka.topicDefaults.partitions"),
    ("kafka.topicDefaults.minInSyncReplicas", 3, "spec.kafka.topicDefaults.minInSyncReplicas"),
    ("kafka.topicDefaults.retention", "7 days", "spec.kafka.topicDefaults.retention"),
    (
        "kafka.authentication",
        {"type": "plain", "secretRef": {"name": "k"}},
        "spec.kafka.authentication.type",
    ),
    (
        "kafka.authentication",
        {"type": "tls"},
        "spec.kafka.authentication.secretRef: Required value",
    ),
    ("kafka.bogus", 1, "spec.kafka.bogus"),
    ("streams.1.name", "climate", 'spec.streams: duplicate entries for key [name="climate"]'),
    ("streams.0.name", "Climate", "spec.streams[0].name"),
    ("streams.0.fields", [], "spec.streams[0].fields"),
    ("streams.0.fields.0.min", 500, "spec.streams[0].fields[0].min"),
    ("streams.1.fields.0.min", 0, "spec.streams[1].fields[0].type"),
    (
        "gateways",
        [
            {"name": "sim", "source": {"type": "simulated"}},
            {"name": "sim", "source": {"type": "mqtt", "mqtt": {"url": "tcp://m:1883"}}},
        ],
        'spec.gateways: duplicate entries for key [name="sim"]',
    ),
    ("gateways.0.source.type", "mqtt", "spec.gateways[0].source.mqtt"),
    (
        "gateways.0",
        {**SERIAL, "source": {"type": "serial", "serial": {"device": "COM3"}}},
        "spec.gateways[0].source.serial.device",
    ),
    (
        "gateways.0",
        {
            **SERIAL,
            "source": {"type": "serial", "serial": {"device": "/dev/ttyACM0", "baudRate": 12345}},
        },
        "spec.gateways[0].source.serial.baudRate: Unsupported value",
    ),
    ("gateways.0", {**SERIAL, "replicas": 2}, "spec.gateways[0].replicas"),
    ("gateways.0.source.simulated.interval", "0s", "spec.gateways[0].source.simulated.interval"),
    ("processing", {"window": "5s", "triggerInterval": "10s"}, "spec.processing.window"),
    ("processing", {"watermark": "25h"}, "spec.processing.watermark"),
    ("processing", {"sparkVersion": "3.4.0"}, "spec.processing.sparkVersion"),
    (
        "processing",
        {"alerts": {"thresholds": [{**THRESHOLD, "stream": "wind"}]}},
        "spec.processing.alerts.thresholds",
    ),
    (
        "processing",
        {"alerts": {"thresholds": [{**THRESHOLD, "field": "speed"}]}},
        "spec.processing.alerts.thresholds",
    ),
    (
        "processing",
        {"alerts": {"thresholds": [{**THRESHOLD, "above": None}]}},
        "spec.processing.alerts.thresholds[0]",
    ),
    (
        "processing",
        {"sinks": {"lake": {"format": "csv"}}},
        "spec.processing.sinks.lake.format: Unsupported value",
    ),
    (
        "processing",
        {"restartPolicy": {"type": "Never"}},
        "spec.processing.restartPolicy.type: Unsupported value",
    ),
    ("consumers.0.type", "printer", "spec.consumers[0].type: Unsupported value"),
    ("consumers.0.webhookUrl", "ftp://x", "spec.consumers[0].webhookUrl"),
    ("scaling", {"minReplicas": 7, "maxReplicas": 6}, "spec.scaling.minReplicas"),
    ("scaling", {"pollInterval": "0s"}, "spec.scaling.pollInterval"),
    ("scaling", {"enabled": True, "consumers": None}, "spec.scaling.target"),
]


def _manifest(path: str, value: Any) -> dict[str, Any]:
    manifest = pipeline("bad", "default", BOOT)
    if path == "scaling" and value.get("consumers", 1) is None:
        del manifest["spec"]["consumers"]
        value = {"enabled": True}
    _set(manifest["spec"], path, value if value is _DELETE else copy.deepcopy(value))
    return manifest


def _apply(manifest: dict[str, Any], namespace: str) -> subprocess.CompletedProcess[str]:
    manifest = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
    return kubectl_apply(manifest, "validation-test")


@pytest.fixture(scope="module")
def validation_namespace(stack: dict[str, str]) -> Any:
    name = "sensorpipe-validation"
    subprocess.run(["kubectl", "create", "namespace", name], capture_output=True, check=False)
    return name


def test_the_base_manifest_is_valid(validation_namespace):
    proc = _apply(pipeline("good", "x", BOOT), validation_namespace)
    assert proc.returncode == 0, proc.stderr
    subprocess.run(
        ["kubectl", "-n", validation_namespace, "delete", "sensorpipeline", "good", "--wait=false"],
        check=False,
    )


@pytest.mark.parametrize(
    ("path", "value", "field"), CASES, ids=[f"{c[0]}={c[2].split(':')[0]}" for c in CASES]
)
def test_invalid_manifest_is_refused_naming_the_field(validation_namespace, path, value, field):
    proc = _apply(_manifest(path, value), validation_namespace)
    assert proc.returncode != 0, f"accepted: {path}={value!r}"
    assert field in proc.stderr, proc.stderr


def test_long_or_dotted_names_are_refused(validation_namespace):
    for name, message in [
        ("a" * 41, "metadata.name must be at most 40"),
        ("farm.one", "metadata.name must be a lowercase DNS label"),
    ]:
        proc = _apply(pipeline(name, "x", BOOT), validation_namespace)
        assert proc.returncode != 0
        assert message in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("path", "value", "field"), CASES, ids=[f"{c[0]}={c[2].split(':')[0]}" for c in CASES]
)
def test_validate_refuses_what_the_api_server_refuses(path, value, field):
    """``sensorpipe validate`` (the CRD's rules offline, then the model) names the same field.
    Server-side apply words duplicate map keys its own way; validate names the list."""
    with pytest.raises(SpecError) as refused:
        admit(_manifest(path, value), crdcheck.load_schema(crdcheck.REPO_CRD))
    assert field.split(":")[0] in str(refused.value)
