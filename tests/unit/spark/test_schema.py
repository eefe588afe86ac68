"""The reading rules come from schemas/reading.schema.json itself."""

import json

import pytest

from sensorpipe_spark import schema

pytestmark = pytest.mark.unit


def test_repository_schema_is_loaded_with_its_rules():
    s = schema.load()
    raw = json.loads(schema.schema_path().read_text())
    assert s.names == tuple(raw["properties"])
    assert s.required == frozenset(raw["required"])
    assert s.additional_properties is False
    assert s.rule("seq").type == "integer"
    assert s.rule("seq").minimum == 0
    assert s.rule("device_id").pattern == raw["properties"]["device_id"]["pattern"]
    assert s.rule("v").const == 1
    assert s.rule("v").type == "integer"


def test_environment_variable_points_at_another_schema(tmp_path, monkeypatch):
    doc = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"const": True}},
        "required": ["a"],
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv(schema.SCHEMA_ENV, str(path))
    s = schema.load()
    assert s.names == ("a", "b")
    assert s.rule("b").type == "boolean"
    assert s.additional_properties is True


def test_property_without_a_single_type_is_refused():
    with pytest.raises(ValueError, match="single type"):
        schema.parse({"properties": {"x": {"type": ["string", "null"]}}})
