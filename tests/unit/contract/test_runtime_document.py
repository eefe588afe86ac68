"""The runtime config document: what the operator renders for every example and spec variant
is what the JSON Schema describes, and every reader (gateway, notifier, Spark) reads it through
the contract's one reader, with the same defaults, refusing a version it does not know."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import fastjsonschema
import pytest

from sensorpipe_contract import runtime
from sensorpipe_edge.config import from_document as gateway_config
from sensorpipe_edge.notifier import notifier_config
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.model.pipeline import Pipeline, parse
from sensorpipe_spark import config as spark_config
from tests.unit.operator.specs import full, minimal

from .documents import pipelines, rendered

pytestmark = pytest.mark.unit

VALIDATE = fastjsonschema.compile(runtime.schema())
PIPELINES = pipelines()
IDS = [name for name, _ in PIPELINES]


@pytest.mark.parametrize("pipeline", [p for _, p in PIPELINES], ids=IDS)
def test_every_rendered_document_is_valid_and_read_by_every_reader(pipeline: Pipeline):
    spark_doc, *gateway_docs = rendered(pipeline)
    for doc in (spark_doc, *gateway_docs):
        VALIDATE(doc)
        assert runtime.read(doc).version == runtime.VERSION
    job = spark_config.from_document(spark_doc)
    assert [s.topic for s in job.streams] == [pipeline.stream_topic(s) for s in pipeline.streams]
    assert job.checkpoint_path == pipeline.checkpoint_path
    assert job.alerts.jump_enabled == pipeline.processing.alerts.jump.enabled
    for gateway, doc in zip(pipeline.gateways, gateway_docs, strict=True):
        cfg = gateway_config(doc, {})
        assert cfg.gateway == gateway.name
        assert cfg.dead_letter_topic == pipeline.dead_letter_topic
        assert {n: s.fields for n, s in cfg.streams.items()} == {
            s.name: {f.name: f for f in s.fields} for s in job.streams
        }
    for consumer in pipeline.consumers:
        notifier = notifier_config(spark_doc, {"SENSORPIPE_CONSUMER_NAME": consumer.name})
        assert notifier.group == pipeline.consumer_group(consumer)
        assert notifier.topic == pipeline.alerts_topic


def test_the_variants_reach_every_kind_the_schema_names():
    """Integer fields, every alert kind, every authentication kind and every source type are
    among the rendered documents the test above validates and reads."""
    docs = [doc for _, p in PIPELINES for doc in rendered(p)]
    field_types = {f["type"] for d in docs for s in d["streams"] for f in s["fields"]}
    auth = {(d["kafka"]["authentication"] or {}).get("securityProtocol") for d in docs}
    sources = {d["gateway"]["source"]["type"] for d in docs if "gateway" in d}
    alerts = [d["processing"]["alerts"] for d in docs]
    enabled = {
        k for a in alerts for k in ("anomaly", "jump", "stuck", "silence") if a[k]["enabled"]
    }
    bounds = {b for a in alerts for t in a["thresholds"] for b in ("above", "below") if t[b]}
    assert field_types == {"number", "integer", "boolean"}
    assert auth == {None, "SASL_PLAINTEXT", "SASL_SSL", "SSL"}
    assert sources == {"serial", "mqtt", "kafka", "simulated"}
    assert enabled == {"anomaly", "jump", "stuck", "silence"}
    assert bounds == {"above", "below"}


def _defaults(schema: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths of the document's keys that the schema gives a default (under
    ``processing``: what a hand-written document may leave out)."""
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub:
            yield (*path, key)
        yield from _defaults(sub, (*path, key))


def _at(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


PROCESSING_DEFAULTS = [p for p in _defaults(runtime.schema()) if p[0] == "processing"]


def test_the_defaults_are_equal_everywhere():
    """The operator's defaults (a minimal spec, rendered) are the schema's, and a reader given
    a document without those keys reads what it reads with them."""
    doc = rc.render(parse(minimal(), "farm", "iot"))
    schema = runtime.schema()
    assert len(PROCESSING_DEFAULTS) >= 15
    for path in PROCESSING_DEFAULTS:
        node = schema
        for key in path:
            node = node["properties"][key]
        assert _at(doc, path) == node["default"], path
    without = copy.deepcopy(doc)
    for path in PROCESSING_DEFAULTS:
        del _at(without, path[:-1])[path[-1]]
    assert runtime.read(without) == runtime.read(doc)
    assert spark_config.from_document(without) == spark_config.from_document(doc)
    # The dataclasses' own defaults are those too: jump is off, as in the CRD and the model.
    assert runtime.read(doc).processing == runtime.Processing(
        checkpoint_path=doc["processing"]["checkpointPath"]
    )


READERS = {
    "contract": runtime.read,
    "gateway": lambda doc: gateway_config(doc, {}),
    "notifier": lambda doc: notifier_config(doc, {"SENSORPIPE_CONSUMER_NAME": "notifier"}),
    "spark": spark_config.from_document,
}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize("version", [2, 0, "1", None, True])
def test_an_unknown_version_is_refused_naming_it_and_the_known_ones(reader, version):
    pipeline = parse(full(), "farm", "iot")
    doc = rc.render(pipeline, pipeline.gateways[0])
    doc["version"] = version
    if version is None:
        del doc["version"]
    with pytest.raises(fastjsonschema.JsonSchemaException):
        VALIDATE(doc)
    with pytest.raises(runtime.ContractError) as refused:
        reader(doc)
    message = str(refused.value)
    assert f"version {version!r}" in message
    assert "known: 1" in message


def test_the_notifier_reads_its_group_and_refuses_a_name_the_document_lacks():
    doc = rc.render(parse(full(), "farm", "iot"))
    doc["consumers"][0]["group"] = "renamed.group"  # whatever the operator wrote, verbatim
    assert notifier_config(doc, {"SENSORPIPE_CONSUMER_NAME": "notifier"}).group == "renamed.group"
    with pytest.raises(runtime.ContractError, match="no entry 'other'"):
        notifier_config(doc, {"SENSORPIPE_CONSUMER_NAME": "other"})


def test_a_missing_name_is_refused_not_derived():
    doc = rc.render(parse(full(), "farm", "iot"))
    del doc["consumers"][0]["group"]
    with pytest.raises(runtime.ContractError, match=r"consumers\[0\].group is missing"):
        runtime.read(doc)
    doc = rc.render(parse(full(), "farm", "iot"))
    del doc["topics"]["streams"]["motion"]
    with pytest.raises(runtime.ContractError, match="no topic for the stream 'motion'"):
        runtime.read(doc)
