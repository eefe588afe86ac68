"""Foreign JSON payloads through a declared mapping: pure functions, no services.

The seeds' producer shapes become contract readings; whatever does not map is refused with
the reason the dead letter will carry; sequence numbers from Kafka coordinates or the
gateway's count never repeat for a device.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorpipe_edge.config import from_document
from sensorpipe_edge.core import Gateway
from sensorpipe_edge.metrics import Stats
from sensorpipe_edge.payload import (
    MAX_PARTITION,
    GatewaySeq,
    PayloadMapping,
    content_seq,
    extract,
    kafka_seq,
)
from sensorpipe_edge.protocol import MAX_SEQ, Rejected
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.sink import KafkaSink
from sensorpipe_edge.sources.kafka import SafeOffsets
from tests.seed_payloads import SEEDS, device_of, event_time_of, gateway_source
from tests.unit.edge.documents import pipeline_document

pytestmark = pytest.mark.unit

NOW = 1_764_770_000_123
MQTT = {"url": "tcp://m:1883", "topicFilter": "farm/#"}


def mapping_of(payload: dict[str, Any]) -> PayloadMapping:
    """The edge's mapping of a spec's payload block, through the operator's model and
    runtime document, as a deployed gateway gets it."""
    block = gateway_source("farm", {"type": "mqtt", "mqtt": MQTT, "payload": payload})
    return PayloadMapping.from_document(block["payload"])


@pytest.fixture
def builder(gateway_config):
    return RecordBuilder(gateway_config, compile_validator())


@pytest.mark.parametrize(("name", "spec", "produce"), SEEDS, ids=[s[0] for s in SEEDS])
def test_a_seed_producer_payload_becomes_the_contract_reading(builder, name, spec, produce):
    mapping = mapping_of(spec)
    rng = random.Random(name)
    for _ in range(200):
        message = produce(rng, time.time())
        found = extract(mapping, json.dumps(message).encode())
        topic, key, value = builder.mapped(found, 7, NOW)
        assert (topic, key) == ("farm.climate", device_of(spec, message).encode())
        assert json.loads(value) == {
            "v": 1,
            "device_id": device_of(spec, message),
            "stream": "climate",
            "seq": 7,
            "event_time": event_time_of(spec, message),
            "received_at": NOW,
            "gateway": "bench",
            "values": {"temperature": message["temperature"], "humidity": message["humidity"]},
        }


def test_nested_renamed_members_rfc3339_time_and_the_device_seq(builder):
    mapping = mapping_of(
        {
            "stream": "climate",
            "deviceId": "meta.id",
            "seq": "meta.n",
            "time": "at",
            "timeUnit": "rfc3339",
            "fields": {"temperature": "t.c"},
        }
    )
    payload: dict[str, Any] = {"meta": {"id": "barn-7", "n": 41}, "at": "2026-12-03T14:00:00.250Z"}
    payload |= {"t": {"c": "21.5"}, "humidity": 40, "extra": [1, 2]}
    found = extract(mapping, json.dumps(payload).encode())
    assert (found.device_id, found.seq, found.epoch_ms) == ("barn-7", 41, 1_796_306_400_250)
    record = json.loads(builder.mapped(found, found.seq, NOW)[2])
    assert record["values"] == {"temperature": 21.5, "humidity": 40}


def test_without_a_time_member_the_event_time_is_the_receive_time(builder):
    mapping = mapping_of({"stream": "motion", "deviceId": "id"})
    for sent, got in [(True, True), (0, False), ("1", True)]:
        found = extract(mapping, json.dumps({"id": "pir1", "motion": sent}).encode())
        record = json.loads(builder.mapped(found, 1, NOW)[2])
        assert (record["event_time"], record["values"]) == (NOW, {"motion": got})


CLIMATE = {"stream": "climate", "deviceId": "device_id", "time": "ts", "timeUnit": "s"}
GOOD = {"device_id": "d1", "temperature": 21.5, "humidity": 40.0, "ts": 1_764_770_000}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"$d1,1,,climate,temperature=1;humidity=2*0000", "not_json"),
        (b"[1, 2]", "not_json"),
        (b'{"device_id": "d1", "temperature": 21.5', "not_json"),
        (b"\xff\xfe{}", "not_utf8"),
        (b'{"x": "' + b"a" * 70_000 + b'"}', "line_too_long"),
        ({k: v for k, v in GOOD.items() if k != "device_id"}, "bad_device_id"),
        (GOOD | {"device_id": "dev 1"}, "bad_device_id"),
        (GOOD | {"device_id": -3}, "bad_device_id"),
        (GOOD | {"device_id": {"id": 1}}, "bad_device_id"),
        ({k: v for k, v in GOOD.items() if k != "humidity"}, "missing_field"),
        (GOOD | {"humidity": None}, "missing_field"),
        ({k: v for k, v in GOOD.items() if k != "ts"}, "bad_time"),
        (GOOD | {"ts": "yesterday"}, "bad_time"),
        (GOOD | {"ts": -5}, "bad_time"),
        (GOOD | {"ts": True}, "bad_time"),
        (GOOD | {"temperature": "hot"}, "wrong_type"),
        (GOOD | {"temperature": True}, "wrong_type"),
        (GOOD | {"temperature": [21.5]}, "wrong_type"),
        # sensorpipe_contract.fields: not finite as a double, as Spark's sensor_error
        (GOOD | {"temperature": 1e999}, "sensor_error"),
        (GOOD | {"temperature": 10**16}, "out_of_range"),  # a number field: any finite number
        (GOOD | {"temperature": 95.3}, "out_of_range"),
        (GOOD | {"humidity": -1}, "out_of_range"),
    ],
)
def test_what_does_not_map_is_refused_with_its_reason(builder, payload, reason):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(Rejected) as info:
        builder.mapped(extract(mapping_of(CLIMATE), raw), 1, NOW)
    assert info.value.reason == reason
    if reason not in ("not_json", "not_utf8", "line_too_long", "bad_device_id"):
        assert info.value.device_id == "d1"  # the dead letter's key: traceable to the device


@pytest.mark.parametrize("seq", [-1, 2**53, 1.5, "7", None])
def test_a_declared_seq_member_must_hold_a_sequence_number(seq):
    mapping = mapping_of(CLIMATE | {"seq": "n"})
    with pytest.raises(Rejected) as info:
        extract(mapping, json.dumps(GOOD | {"n": seq}).encode())
    assert info.value.reason == "bad_seq"


def test_kafka_coordinates_are_distinct_sequence_numbers_within_the_schema():
    coords = [(p, o) for p in (0, 1, 7, MAX_PARTITION) for o in (0, 1, 2**40 - 1)]
    seqs = [kafka_seq(p, o) for p, o in coords]
    assert len(set(seqs)) == len(seqs)
    assert max(seqs) <= MAX_SEQ
    for p, o in [(-1, 0), (MAX_PARTITION + 1, 0), (0, 2**40)]:
        with pytest.raises(ValueError, match="do not fit"):
            kafka_seq(p, o)


def test_the_gateway_count_goes_up_by_one_and_never_repeats_after_a_restart():
    first = GatewaySeq()
    run1 = [first.next("d1", NOW + i) for i in range(500)]
    assert run1 == list(range(run1[0], run1[0] + 500))
    assert first.next("d2", NOW) == run1[0]  # per device
    restarted = GatewaySeq()  # a new process, one millisecond later
    assert restarted.next("d1", NOW + 1) > run1[-1]
    assert max(run1) < MAX_SEQ // 4  # below 2**53 for two centuries yet


def test_content_numbers_are_the_same_for_a_message_again_and_fit_the_schema():
    payloads = [json.dumps(GOOD | {"temperature": t}).encode() for t in range(10_000)]
    seqs = [content_seq(p) for p in payloads]
    assert len(set(seqs)) == len(seqs)
    assert all(0 <= s <= MAX_SEQ for s in seqs)
    assert content_seq(bytes(payloads[0])) == seqs[0]


def test_a_forgotten_device_restarts_higher():
    seq = GatewaySeq(limit=2)
    a = [seq.next("a", NOW) for _ in range(3)]
    seq.next("b", NOW)
    seq.next("c", NOW + 1)  # over the limit: the memory starts over
    assert seq.next("a", NOW + 1) > a[-1]


def test_a_mapping_the_edge_cannot_read_fails_at_start_not_per_payload():
    block = {"stream": "climate", "deviceId": "id", "fields": {}, "format": "xml"}
    with pytest.raises(ValueError, match="format"):
        PayloadMapping.from_document(block)
    with pytest.raises(ValueError, match="timeUnit"):
        PayloadMapping.from_document(block | {"format": "json", "timeUnit": "h"})


def test_a_kafka_offset_is_committed_only_after_every_earlier_one_is_safe():
    offsets = SafeOffsets()
    for o in range(10, 15):
        offsets.taken(0, o)
    offsets.taken(1, 3)
    assert offsets.safe(0, 12) is None  # 10 and 11 are not safe yet
    assert offsets.safe(0, 10) == 11
    assert offsets.safe(1, 3) == 4  # partitions are independent
    assert offsets.safe(0, 11) == 13  # 11 and the 12 before it
    assert offsets.safe(0, 14) is None
    assert offsets.safe(0, 13) == 15
    offsets.forget([0])
    assert offsets.safe(0, 15) is None  # revoked: its new owner reads it again


class Sent:
    """Stands in for the Kafka sink: keeps what the gateway hands over, acknowledges it."""

    report_each = True

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, dict[str, Any]]] = []

    def send(self, topic: str, key: bytes | None, value: bytes, ack: Any = None) -> None:
        self.records.append((topic, key, json.loads(value)))
        if ack is not None:
            ack()


def test_the_gateway_accounts_for_every_payload_and_picks_the_sequence_number(gateway_config):
    sink = Sent()
    gateway = Gateway(
        RecordBuilder(gateway_config, compile_validator()),
        cast(KafkaSink, sink),
        Stats(),
        "farm.deadletter",
    )
    acked: list[int] = []
    with_seq = mapping_of(CLIMATE | {"seq": "n"})
    own = json.dumps(GOOD | {"n": 5}).encode()
    gateway.handle_foreign([(own, lambda: acked.append(1))], "kafka:t", with_seq, "kafka:t/0@9", 77)
    gateway.handle_foreign(
        [(json.dumps(GOOD).encode(), lambda: acked.append(2))],
        "kafka:t",
        mapping_of(CLIMATE),
        "kafka:t/1@3",
        77,
    )
    timed = [(json.dumps(GOOD | {"device_id": d}).encode(), None) for d in ("a", "a", "b")]
    gateway.handle_foreign(timed, "mqtt:f/#", mapping_of(CLIMATE), "mqtt:f/x")
    untimed = {k: v for k, v in CLIMATE.items() if k not in ("time", "timeUnit")}
    counted = [(json.dumps(GOOD | {"device_id": d}).encode(), None) for d in ("a", "a")]
    gateway.handle_foreign(counted, "mqtt:f/#", mapping_of(untimed), "mqtt:f/x")
    gateway.handle_foreign(
        [(b"garbage", lambda: acked.append(3))], "mqtt:f/#", mapping_of(CLIMATE), "mqtt:f/y/z"
    )
    readings = [
        (key, value["seq"]) for topic, key, value in sink.records if topic == "farm.climate"
    ]
    assert readings[:2] == [(b"d1", 5), (b"d1", 77)]  # the payload's own, then the source's
    (a0, again, b0, c0, c1) = (seq for _, seq in readings[2:])
    # a timed payload's from its content: the same message again is the same reading
    assert (again == a0, b0 != a0, a0 == content_seq(timed[0][0])) == (True, True, True)
    assert c1 - c0 == 1  # no time: the gateway's count, per device
    (dead,) = [value for topic, _, value in sink.records if topic == "farm.deadletter"]
    assert (dead["source"], dead["reason"], dead["raw"]) == ("mqtt:f/y/z", "not_json", "garbage")
    assert acked == [1, 2, 3]
    huge = b'{"x": "' + b"a" * 2_000_000 + b'"}'
    gateway.handle_foreign([(huge, None)], "mqtt:f/#", mapping_of(CLIMATE), "mqtt:f/big")
    topic, _, value = sink.records[-1]
    assert (topic, value["reason"], len(value["raw"])) == (
        "farm.deadletter",
        "line_too_long",
        65536,
    )
    assert gateway.stats.readings_in == {"kafka:t": 2, "mqtt:f/#": 7}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
MEMBERS = st.sampled_from(["device_id", "temperature", "humidity", "ts", "n"])


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(MEMBERS, JSON | st.integers(min_value=-(10**400), max_value=10**400)),
    st.sampled_from(["s", "ms", "rfc3339"]),
)
def test_no_payload_raises_anything_but_a_rejection(payload, unit):
    """Whatever a device sends, the gateway gets a reading or a reason, never an exception
    that would stop it."""
    builder = RecordBuilder(from_document(pipeline_document(), {}), compile_validator())
    mapping = mapping_of(CLIMATE | {"timeUnit": unit, "seq": "n"})
    for raw in (json.dumps(payload).encode(), b"[" * 100_000, json.dumps(GOOD | payload).encode()):
        try:
            found = extract(mapping, raw)
            builder.mapped(found, 1, NOW)
        except Rejected:
            pass
