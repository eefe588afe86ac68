"""`sensorpipe validate` and `render`: the operator's model and builders behind the CLI."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.local.conftest import SPEC, sensorpipe, write_manifest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(SPEC)
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["streams", 0, "fields", 0, "min"], 90, "spec.streams[0].fields[0].min"),
        (["processing", "window"], "ten minutes", "spec.processing.window"),
        (["gateways", 0, "source", "type"], "carrier-pigeon", "spec.gateways[0].source.type"),
        (["kafka", "topicBackend"], "zookeeper", "spec.kafka.topicBackend"),
    ],
)
def test_validate_refuses_a_bad_manifest_naming_the_field(tmp_path, path, value, field):
    manifest = write_manifest(tmp_path / "bad.yaml", "bad", _broken(path, value))
    result = sensorpipe("validate", "-f", str(manifest))
    assert result.returncode == 1, result.stdout + result.stderr
    assert field in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_validate_refuses_a_file_that_is_not_a_pipeline(tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = sensorpipe("validate", "-f", str(manifest))
    assert result.returncode == 1
    assert "exactly one SensorPipeline" in result.stderr


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=str)
def test_validate_accepts_every_example(example):
    result = sensorpipe("validate", "-f", str(example))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout


def test_render_prints_the_children_the_operator_creates():
    result = sensorpipe("render", "-f", str(ROOT / "examples" / "arduino-line.yaml"))
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds.count("KafkaTopic") == 6  # three streams, dead-letter, aggregates, alerts
    assert {"SparkApplication", "Deployment", "ConfigMap", "ServiceAccount"} <= set(kinds)
