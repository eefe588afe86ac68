"""Each string the parts must agree on is spelled in one module of the contract, which every
part imports; no other module of the operator, edge or Spark spells it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorpipe_contract import identity, naming

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PARTS = (
    "operator/sensorpipe_operator",
    "edge/sensorpipe_edge",
    "spark_apps/sensorpipe_spark",
    "local/sensorpipe_local",
)
OWNED = {
    identity.GROUP: "iot.sensorpipe.dev",
    identity.API_VERSION: "iot.sensorpipe.dev/v1alpha1",
    identity.KIND: "SensorPipeline",
    identity.PLURAL: "sensorpipelines",
    identity.PIPELINE_LABEL: "iot.sensorpipe.dev/pipeline",
    identity.PART_LABEL: "iot.sensorpipe.dev/part",
    identity.CONFIG_HASH_ANNOTATION: "iot.sensorpipe.dev/config-hash",
    identity.APPLIED_ANNOTATION: "iot.sensorpipe.dev/applied-digest",
    identity.FINALIZER: "iot.sensorpipe.dev/finalizer",
    identity.AUTOSCALER_MANAGER: "sensorpipe-autoscaler",
    identity.TIME_FORMAT: "%Y-%m-%dT%H:%M:%SZ",
    identity.CONFIG_PATH: "/etc/sensorpipe/pipeline.json",
    identity.TLS_DIR: "/etc/sensorpipe/kafka-tls",
}
# The name patterns, by what they give for pipeline "p", and how the old spellings read.
NAMES = {
    naming.stream_topic("p", "s"): ("p.s", "}.{stream"),
    naming.dead_letter_topic("p"): ("p.deadletter", "}.deadletter"),
    naming.aggregates_topic("p"): ("p.aggregates", "}.aggregates"),
    naming.alerts_topic("p"): ("p.alerts", "}.alerts"),
    naming.spark_group("p"): ("p.spark", "}.spark"),
    naming.consumer_group("p", "c"): ("p.c", "}.{consumer"),
    naming.gateway_source_group("p", "g"): ("p.gateway.g", "}.gateway."),
    naming.checkpoint_path("n", "p"): ("/data/checkpoints/n/p", "/data/checkpoints/"),
    naming.gateway_child("p", "g"): ("p-gw-g", "}-gw-"),
    naming.consumer_child("p", "c"): ("p-consumer-c", "}-consumer-"),
    naming.spark_application("p"): ("p-processing", "}-processing"),
    naming.config_map("p"): ("p-config", "}-config"),
}


def _sources() -> list[Path]:
    return [p for part in PARTS for p in sorted((ROOT / part).rglob("*.py"))]


def test_the_identity_has_its_values():
    for value, spelled in OWNED.items():
        assert value == spelled


@pytest.mark.parametrize("spelled", sorted(OWNED.values()))
def test_no_part_spells_an_identity_string_again(spelled: str):
    """As a string literal, or one that builds on it (prose may name them)."""
    literals = [f"{q}{spelled}{end}" for q in "\"'" for end in (q, "/", ".")]
    found = [
        str(p.relative_to(ROOT))
        for p in _sources()
        if any(literal in p.read_text() for literal in literals)
    ]
    assert found == [], f"{spelled!r} is spelled in {found}: import sensorpipe_contract.identity"


@pytest.mark.parametrize("name", sorted(NAMES), ids=str)
def test_no_part_derives_a_name_again(name: str):
    expected, pattern = NAMES[name]
    assert name == expected
    found = [str(p.relative_to(ROOT)) for p in _sources() if pattern in p.read_text()]
    assert found == [], f"{pattern!r} is derived in {found}: use sensorpipe_contract.naming"
