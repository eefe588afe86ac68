"""`sensorpipe validate`, `render` and the refusals of `sensorpipe-local run`: the operator's
model and builders behind both commands, and errors that say what to fix."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.local.conftest import (
    SENSORPIPE,
    SENSORPIPE_LOCAL,
    SPEC,
    command,
    write_manifest,
)

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
    result = command(SENSORPIPE, "validate", "-f", str(manifest))
    assert result.returncode == 1, result.stdout + result.stderr
    assert field in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_validate_refuses_a_file_that_is_not_a_pipeline(tmp_path):
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = command(SENSORPIPE, "validate", "-f", str(manifest))
    assert result.returncode == 1
    assert "exactly one SensorPipeline" in result.stderr


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=str)
def test_validate_accepts_every_example(example):
    result = command(SENSORPIPE, "validate", "-f", str(example))
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout


def test_render_prints_the_children_the_operator_creates():
    result = command(SENSORPIPE, "render", "-f", str(ROOT / "examples" / "arduino-line.yaml"))
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds.count("KafkaTopic") == 6  # three streams, dead-letter, aggregates, alerts
    assert {"SparkApplication", "Deployment", "ConfigMap", "ServiceAccount"} <= set(kinds)


def test_run_refuses_a_bad_manifest_before_starting_anything(tmp_path):
    manifest = write_manifest(tmp_path / "bad.yaml", "bad", _broken(["processing", "window"], "x"))
    work = tmp_path / "work"
    result = command(
        SENSORPIPE_LOCAL,
        "run",
        "-f",
        str(manifest),
        "--bootstrap",
        "127.0.0.1:9",
        "--work-dir",
        str(work),
    )
    assert result.returncode == 1
    assert "spec.processing.window" in result.stderr
    assert not work.exists()


def test_run_names_the_kafka_it_cannot_reach(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = write_manifest(tmp_path / "ok.yaml", "unreachable")
    result = command(
        SENSORPIPE_LOCAL,
        "run", "-f", str(manifest), "--bootstrap", f"127.0.0.1:{port}",
        "--work-dir", str(tmp_path / "work"),
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_asks_where_the_firmware_is_built_before_starting_anything(tmp_path):
    """The package cannot know where a checkout keeps firmware/build; it says how to tell it."""
    manifest = write_manifest(tmp_path / "ok.yaml", "no-firmware")
    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if k != "SENSORPIPE_FIRMWARE_BUILD"}
    result = subprocess.run(
        [SENSORPIPE_LOCAL, "run", "-f", str(manifest), "--bootstrap", "127.0.0.1:9",
         "--work-dir", str(work), "--firmware-node", "bench"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--firmware-build" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not work.exists()
