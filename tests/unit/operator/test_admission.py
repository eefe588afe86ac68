"""``sensorpipe validate`` applies the CRD's schema and CEL rules and then the operator's model,
so every mistake of tests/invalid_specs.py is refused offline naming its field, and what the
API server accepts and the operator can run, validate accepts too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensorpipe_operator import crdcheck
from sensorpipe_operator.manifest import admit
from sensorpipe_operator.model.errors import SpecError
from tests.invalid_specs import CASES, Case, base, manifest_of

from .conftest import CRD

pytestmark = pytest.mark.unit
ROOT = CRD.parents[1]


@pytest.fixture(scope="module")
def schema() -> crdcheck.Schema:
    return crdcheck.load_schema(CRD)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_mistake_is_refused_offline_naming_its_field(schema, case: Case):
    with pytest.raises(SpecError) as refused:
        admit(manifest_of(case), schema)
    assert case.field in str(refused.value)


def test_there_are_at_least_forty_mistakes():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "path", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")), ids=str
)
def test_the_examples_are_admitted(schema, path: str):
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / path).read_text()) if d]
    for doc in docs:
        if doc.get("kind") == "SensorPipeline":
            admit(doc, schema)


def test_a_stream_with_its_own_topic_beside_streams_without_one_is_admitted(schema):
    # The API server's CEL absorbs an error on the untaken side of `||`; validate's CEL raises
    # it, so a rule reading `a.topic` of a stream without one must not rely on that.
    manifest = base()
    manifest["spec"]["streams"][1]["topic"] = "own.topic"
    assert "topic" not in manifest["spec"]["streams"][0]
    admit(manifest, schema)


def test_defaults_are_applied_as_the_api_server_applies_them(schema):
    value, problems = crdcheck.check(base(), schema)
    assert problems == []
    assert value["spec"]["kafka"]["topicBackend"] == "strimzi"
    assert value["spec"]["processing"]["alerts"]["stuck"] == {"enabled": True, "after": "10m"}
    assert value["spec"]["gateways"][0]["source"]["simulated"]["interval"] == "1s"


def test_durations_in_days_and_numbers_typed_as_doubles_pass(schema):
    manifest = base()
    manifest["spec"]["processing"] = {
        "window": "1d",
        "watermark": "0.5d",
        "alerts": {
            "thresholds": [
                {"name": "hot", "stream": "climate", "field": "temperature", "above": 70}
            ]
        },
    }
    manifest["spec"]["kafka"]["topicDefaults"]["retention"] = "0"
    manifest["spec"]["kafka"]["topicDefaults"]["allowZeroRetention"] = True
    model = admit(manifest, schema)
    assert model.processing.window == 86400.0
    assert model.kafka.topic_defaults.retention_seconds == 0.0


def test_every_problem_is_reported_the_way_the_api_server_words_it(schema):
    manifest: dict[str, Any] = base()
    manifest["spec"]["kafka"]["topicBackend"] = "zookeeper"
    manifest["spec"]["streams"][0]["bogus"] = 1
    del manifest["spec"]["streams"][1]["fields"]
    _, problems = crdcheck.check(manifest, schema)
    assert [str(p) for p in problems] == [
        "spec.streams[0].bogus: field not declared in schema",
        'spec.kafka.topicBackend: Unsupported value: "zookeeper": supported values: '
        '"strimzi", "admin"',
        "spec.streams[1].fields: Required value",
    ]


def test_the_validate_command_names_every_field(tmp_path: Path):
    manifest = manifest_of(CASES[0])
    manifest["spec"]["processing"] = {"windw": "5m"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(manifest))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "sensorpipe"), "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "spec.processing.windw: field not declared in schema" in proc.stderr
    assert "spec.streams" in proc.stderr


def test_the_validate_command_checks_devices_as_the_operator_does(tmp_path: Path):
    manifest = base()
    manifest["spec"]["gateways"] = [
        {"name": "uart", "source": {"type": "serial", "serial": {"device": "/dev/ttyS1"}}}
    ]
    path = tmp_path / "uart.yaml"
    path.write_text(yaml.safe_dump(manifest))
    validate = [str(Path(sys.executable).parent / "sensorpipe"), "validate", "-f", str(path)]
    refused = subprocess.run(validate, capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert "spec.gateways[0].source.serial.device: /dev/ttyS1 is not among" in refused.stderr
    allowed = subprocess.run(
        [*validate, "--allowed-devices", "/dev/ttyS*"], capture_output=True, text=True, check=False
    )
    assert allowed.returncode == 0, allowed.stderr


def test_the_validate_command_checks_device_resources_as_the_operator_does(tmp_path: Path):
    serial = {"device": "/dev/ttyS0", "resource": "vendor.example/uart"}
    manifest = base()
    manifest["spec"]["gateways"] = [
        {"name": "uart", "source": {"type": "serial", "serial": serial}}
    ]
    path = tmp_path / "uart.yaml"
    path.write_text(yaml.safe_dump(manifest))
    validate = [str(Path(sys.executable).parent / "sensorpipe"), "validate", "-f", str(path)]
    refused = subprocess.run(validate, capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert "spec.gateways[0].source.serial.resource: vendor.example/uart is not among" in (
        refused.stderr
    )
    allowed = subprocess.run(
        [*validate, "--allowed-device-resources", "vendor.example/*"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr
