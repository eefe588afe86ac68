"""Lines to contract records: the typed values, every rule of contracts.md §3, the schema."""

from __future__ import annotations

import json

import pytest

from sensorpipe_edge.protocol import Rejected, encode, parse
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.schema import compile_validator

pytestmark = pytest.mark.unit

NOW = 1_700_000_000_123


@pytest.fixture
def builder(gateway_config):
    return RecordBuilder(gateway_config, compile_validator())


def test_firmware_reading_becomes_the_contract_record(builder):
    raw = b"$node-01,0,U23,climate,temperature=23.5;humidity=41.0*00A2\r\n"
    topic, key, value = builder.reading(parse(raw), NOW)
    assert (topic, key) == ("farm.climate", b"node-01")
    assert json.loads(value) == {
        "v": 1,
        "device_id": "node-01",
        "stream": "climate",
        "seq": 0,
        "event_time": NOW,
        "received_at": NOW,
        "gateway": "bench",
        "values": {"temperature": 23.5, "humidity": 41.0},
        "device_uptime_ms": 23,
    }


def test_device_clock_is_the_event_time_and_booleans_are_booleans(builder):
    raw = encode("d1", 7, "motion", {"motion": True}, epoch_ms=NOW - 5)
    _, _, value = builder.reading(parse(raw), NOW)
    rec = json.loads(value)
    assert (rec["event_time"], rec["values"], "device_uptime_ms" in rec) == (
        NOW - 5,
        {"motion": True},
        False,
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (encode("d1", 1, "pressure", {"p": 1}), "unknown_stream"),
        (encode("d1", 1, "distance", {"distance": 5, "x": 1}), "unknown_field"),
        (encode("d1", 1, "climate", {"temperature": 5}), "missing_field"),
        (encode("d1", 1, "distance", {"distance": "far"}), "wrong_type"),
        (encode("d1", 1, "distance", {"distance": "nan"}), "wrong_type"),
        (encode("d1", 1, "distance", {"distance": "1e999"}), "sensor_error"),  # not finite
        (encode("d1", 1, "motion", {"motion": 2}), "wrong_type"),
        (encode("d1", 1, "distance", {"distance": 401}), "out_of_range"),
        (encode("d1", 1, "climate", {"temperature": -40.5, "humidity": 5}), "out_of_range"),
        (encode("d1", 1, "distance", error="no_echo"), "sensor_error"),
        (encode("-bad", 1, "distance", {"distance": 5}), "schema_violation"),
        (encode("d" * 65, 1, "distance", {"distance": 5}), "schema_violation"),
    ],
)
def test_rule_breaks_are_rejected_with_the_contract_reason(builder, line, reason):
    with pytest.raises(Rejected) as exc:
        builder.reading(parse(line), NOW)
    assert exc.value.reason == reason
    assert exc.value.device_id is not None


def test_dead_letter_record_carries_raw_input_and_reason(builder):
    raw = b"$x\xff\xfe*0000"
    key, value = builder.dead_letter(raw, Rejected("checksum_mismatch", "d"), "serial:/dev/x", NOW)
    assert key is None
    assert json.loads(value) == {
        "v": 1,
        "pipeline": "farm",
        "gateway": "bench",
        "source": "serial:/dev/x",
        "received_at": NOW,
        "stage": "gateway",
        "reason": "checksum_mismatch",
        "detail": "d",
        "raw": "$x\\xff\\xfe*0000",
    }
    key, value = builder.dead_letter(b"r", Rejected("sensor_error", "no_echo", "d1"), "s", NOW)
    assert (key, json.loads(value)["device_id"]) == (b"d1", "d1")
