"""Property (issue #18): for generated specs, valid or invalid by construction, the API server
(CRD schema and CEL, server-side dry run), ``sensorpipe validate`` offline and the operator's
model agree, and the model only ever refuses with a SpecError (which the operator turns into
an InvalidSpec condition): no input makes it raise anything else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client

from sensorpipe_operator import crdcheck
from sensorpipe_operator.kube import Kube
from sensorpipe_operator.manifest import admit
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import parse
from tests.invalid_specs import base

from .harness import create_pipeline

pytestmark = pytest.mark.integration

# Each knob: (value, valid?) pairs; a spec is valid exactly when every chosen value is, but
# for a stream named after a shared topic, which is valid once it names a topic of its own.
STREAM_NAME = [("motion", True), ("door", True), ("deadletter", False), ("alerts", False)]
STREAM_TOPIC = [(None, True), ("own.topic", True), ("..", False), ("{name}.climate", False)]
ABOVE = [(None, True), (79.5, True), (80, False), (1e6, False)]
RETENTION = [("1d", True), ("12h30m", True), ("0", False), ("0.0d", False), ("500us", False)]
WATERMARK = [(None, True), ("0.5d", True), ("23h", True), ("2d", False), ("25h", False)]
FAULTS = [({}, True), ({"spike": 0.2, "corrupt": 0.1}, True), ({"drop": 0.1}, False)]
EXTRA_KEY = [(None, True), ("windw", False)]


def _knob(options: list[tuple[Any, bool]]) -> st.SearchStrategy[tuple[Any, bool]]:
    return st.sampled_from(options)


def _build(name: str, namespace: str, knobs: dict[str, Any]) -> dict[str, Any]:
    manifest = base(name, namespace)
    spec = manifest["spec"]
    spec["streams"][1]["name"] = knobs["stream_name"]
    if knobs["stream_topic"] is not None:
        spec["streams"][1]["topic"] = knobs["stream_topic"].replace("{name}", name)
    spec["kafka"]["topicDefaults"]["retention"] = knobs["retention"]
    spec["gateways"][0]["source"]["simulated"]["faults"] = knobs["faults"]
    processing: dict[str, Any] = {}
    if knobs["watermark"] is not None:
        processing["watermark"] = knobs["watermark"]
    if knobs["above"] is not None:
        rule = {"name": "hot", "stream": "climate", "field": "temperature", "above": knobs["above"]}
        processing["alerts"] = {"thresholds": [rule]}
    if knobs["extra_key"] is not None:
        processing[knobs["extra_key"]] = "5m"
    spec["processing"] = processing
    return manifest


@pytest.fixture(scope="module")
def schema() -> crdcheck.Schema:
    return crdcheck.load_schema(crdcheck.REPO_CRD)


def _server(admin: Kube, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The object as the API server would store it, or None when it refuses it."""
    try:
        stored = create_pipeline(admin, manifest, dry_run=True)
    except client.exceptions.ApiException as exc:
        if exc.status not in (400, 422):
            raise  # a refusal is 400 (undeclared field) or 422 (invalid), anything else a fault
        return None
    return stored


def _operator_accepts(stored: dict[str, Any]) -> bool:
    meta = stored["metadata"]
    try:
        parse(stored["spec"], meta["name"], meta["namespace"])
    except SpecError:
        return False
    return True


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    stream_name=_knob(STREAM_NAME),
    stream_topic=_knob(STREAM_TOPIC),
    above=_knob(ABOVE),
    retention=_knob(RETENTION),
    watermark=_knob(WATERMARK),
    faults=_knob(FAULTS),
    extra_key=_knob(EXTRA_KEY),
)
def test_server_validate_and_operator_agree(admin, kube_namespace, schema, **chosen):
    knobs = {k: v for k, (v, _) in chosen.items()}
    valid = all(ok for _, ok in chosen.values()) or (
        not chosen["stream_name"][1]
        and knobs["stream_topic"] is not None
        and all(ok for knob, (_, ok) in chosen.items() if knob != "stream_name")
    )
    manifest = _build("prop", kube_namespace, knobs)
    try:
        admit(manifest, schema)
        offline = True
    except SpecError:
        offline = False
    stored = _server(admin, manifest)
    cluster = stored is not None and _operator_accepts(stored)
    assert offline == cluster == valid, (knobs, offline, cluster, valid)
