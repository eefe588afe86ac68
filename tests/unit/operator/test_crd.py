from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from sensorpipe_contract.fields import FIELD_TYPES
from sensorpipe_operator.model import autoscaling, kafka, sources

from .conftest import CRD

pytestmark = pytest.mark.unit


def _walk(schema: dict[str, Any], path: str = "spec") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from _walk(sub, f"{path}.{key}")
    if "items" in schema:
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}.*")


def test_every_spec_field_is_described(crd_schema):
    """`kubectl explain sensorpipeline.spec.<field>` must teach every field."""
    missing = [
        path
        for path, sub in _walk(crd_schema["properties"]["spec"])
        if not path.endswith(("[]", ".*")) and not sub.get("description")
    ]
    assert missing == []


def test_api_identity_and_printer_columns(crd):
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "sensorpipelines.iot.sensorpipe.dev"
    assert spec["names"]["shortNames"] == ["sp"]
    version = spec["versions"][0]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Ready",
        "Phase",
        "Message",
        "Lag",
        "Scale",
        "Age",
    ]


def test_enums_match_the_model(crd_schema):
    spec = crd_schema["properties"]["spec"]["properties"]
    assert tuple(spec["kafka"]["properties"]["topicBackend"]["enum"]) == kafka.TOPIC_BACKENDS
    gw = spec["gateways"]["items"]["properties"]["source"]["properties"]
    assert tuple(gw["type"]["enum"]) == sources.SOURCE_TYPES
    assert tuple(gw["serial"]["properties"]["baudRate"]["enum"]) == sources.BAUD_RATES
    fields = spec["streams"]["items"]["properties"]["fields"]["items"]["properties"]
    assert tuple(fields["type"]["enum"]) == FIELD_TYPES
    assert tuple(spec["scaling"]["properties"]["target"]["enum"]) == autoscaling.SCALING_TARGETS


def test_third_party_and_peering_crds_parse():
    for path in [
        CRD.parent / "kopf-peering.yaml",
        *sorted((CRD.parent / "third-party").glob("*.yaml")),
    ]:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert docs
        assert all(d["kind"] == "CustomResourceDefinition" for d in docs)
