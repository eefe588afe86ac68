"""Alerts on real Spark and Kafka, driven by the edge simulator's own signals and faults.

An hour of simulated devices (tests/simulated_faults.py: eight normal ones, and one each with
spikes, a stuck sensor, silence, drop-outs and corrupted lines) is encoded by the gateway's
own record builder, produced to the real broker (readings to their stream topics, rejected
lines to the dead-letter topic, as the gateway does) and drained once by the job's alerts
query. Event times are simulated, so the hour takes seconds of wall time to generate.

The alerts topic must hold exactly what the pure detectors raise on the same lines, each
fault's alerts must be there, and the devices without an alertable fault count as false
alarms, printed and bounded.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sensorpipe_edge.config import from_document as gateway_config
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.schema import compile_validator
from sensorpipe_spark import config, schema, streaming
from tests import simulated_faults as sim
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration


def gateway_records(doc: dict[str, Any], fleets: dict[str, Any]) -> list[tuple[str, Any, bytes]]:
    """(topic, key, value) of every line of the hour, as the gateway would produce them."""
    gateway = {"name": "sim", "source": {"type": "simulated"}}
    builder = RecordBuilder(gateway_config({**doc, "gateway": gateway}, {}), compile_validator())
    out: list[tuple[str, Any, bytes]] = []
    for t, _device, _seq, raw in sim.hour(fleets):
        received = t + 5
        records, rejected = builder.records([raw], received)
        out += records
        for _, rej in rejected:
            key, value = builder.dead_letter(raw, rej, "simulated", received)
            out.append((doc["topics"]["deadLetter"], key, value))
    return out


@pytest.fixture(scope="module")
def alerts(
    spark: SparkSession, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name = f"spa-{secrets.token_hex(3)}"
    base = tmp_path_factory.mktemp(name)
    doc = h.pipeline_doc(name, kafka_bootstrap, str(base / "lake"), str(base / "ck"), None)
    h.create_topics(kafka_bootstrap, h.topics_of(doc))
    fleets = sim.fleets()
    records = gateway_records(doc, fleets)
    rejected = sum(topic == doc["topics"]["deadLetter"] for topic, _, _ in records)
    assert 0 < rejected < len(records) // 100  # the corrupt device's lines, nothing else
    h.produce(kafka_bootstrap, records)
    job = streaming.StreamingJob(spark, config.from_document(doc), schema.load())
    started = time.monotonic()
    job.drain(("alerts",))  # the alerts query reads Kafka itself
    print(
        f"{len(records)} records drained by the alerts query in {time.monotonic() - started:.0f}s"
    )
    return fleets, h.consume_json(kafka_bootstrap, doc["topics"]["alerts"])


def key(a: Any) -> tuple[Any, ...]:
    get = a.get if isinstance(a, dict) else lambda k: getattr(a, k)
    return (get("device_id"), get("stream"), get("field"), get("kind"), get("event_time"))


def test_the_alerts_topic_holds_what_the_detectors_raise_on_the_same_lines(alerts):
    fleets, got = alerts
    want = sim.detect(sim.fleets())
    assert sorted(map(key, got)) == sorted(map(key, want))
    for a in got:
        assert a["pipeline"].startswith("spa-")
        assert a["v"] == 1
        assert isinstance(a["detected_at"], int)


def test_each_fault_raises_its_alert_kind(alerts):
    fleets, got = alerts
    kinds = {
        f: Counter(a["kind"] for a in got if sim.fleet_of(a["device_id"]) == f) for f in fleets
    }
    print({f: dict(c) for f, c in kinds.items()})
    assert {"threshold", "anomaly", "jump"} <= set(kinds["spike"])
    assert kinds["stuck"] == {"stuck": 3}  # temperature, humidity, distance
    assert kinds["silent"] == {"silence": 3}  # climate, distance, motion
    hot = [a for a in got if a["kind"] == "threshold"]
    assert [a["event_time"] for a in hot] == sim.spikes(fleets["spike"], 0)
    assert {(a["rule"], a["severity"], a["threshold"]) for a in hot} == {("hot", "critical", 70.0)}
    assert all(a["value"] > 70.0 for a in hot)


def test_an_hour_of_normal_signals_stays_quiet(alerts):
    _, got = alerts
    false = [a for a in got if sim.fleet_of(a["device_id"]) in sim.QUIET]
    print(f"false alarms from {sim.NORMAL_DEVICES + 2} quiet devices in an hour: {len(false)}")
    assert len(false) <= sim.FALSE_ALARM_BOUND
