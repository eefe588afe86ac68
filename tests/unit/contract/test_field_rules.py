"""The gateway applies the contract's field rules on both of its paths: a line through the
compiled step or the Python path, and a foreign JSON value, get the verdict of
``sensorpipe_contract.fields.check`` (which Spark's expressions follow too:
tests/integration/spark/test_field_rules.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sensorpipe_contract.fields import FieldSpec, check
from sensorpipe_edge.config import from_document
from sensorpipe_edge.protocol import Rejected, crc16
from sensorpipe_edge.readings import MAX_KNOWN_SHAPES, RecordBuilder, json_value
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.shortcut import Shortcut
from tests.field_cases import CASES, IDS, document, spec, verdict

pytestmark = pytest.mark.unit

NOW = 1_700_000_000_000
CONFIG = from_document(document("farm"), {})
GOOD = {"level": 1.5, "count": 7, "open": True}


def _line(device: str, stream: str, value: Any, seq: int) -> bytes:
    """A sealed protocol line carrying the value as JSON writes it."""
    body = f"{device},{seq},U5,{stream},{stream}={json.dumps(value)}".encode()
    return b"$" + body + b"*%04X\r\n" % crc16(body)


def _line_verdict(builder: RecordBuilder, raw: bytes) -> str | None:
    records, rejected = builder.records([raw], NOW)
    assert len(records) + len(rejected) == 1
    return rejected[0][1].reason if rejected else None


@pytest.mark.parametrize(("stream", "value"), CASES, ids=IDS)
def test_the_gateway_gives_the_contracts_verdict_on_every_path(stream: str, value: Any):
    builder = RecordBuilder(CONFIG, compile_validator())
    device = "d1"
    # The first line of a (device, stream) goes the Python way and teaches the shape; the
    # next are the compiled step's where it takes them.
    assert _line_verdict(builder, _line(device, stream, GOOD[stream], 1)) is None
    expected = verdict(stream, value)
    assert _line_verdict(builder, _line(device, stream, value, 2)) == expected
    assert _line_verdict(builder, _line("fresh", stream, value, 2)) == expected  # Python path
    try:
        json_value(spec(stream), value, device)
        from_json = None
    except Rejected as exc:
        from_json = exc.reason
    assert from_json == expected


def test_the_compiled_step_leaves_integer_fields_to_python():
    """The step knows numbers and booleans only; it would take 1.5 for an integer."""
    shortcut = Shortcut(CONFIG.streams, MAX_KNOWN_SHAPES)
    for stream in ("level", "count"):
        shortcut.learn("d1", stream)
    records, deferred = shortcut.records(
        [_line("d1", "level", 2.5, 3), _line("d1", "count", 1.5, 3)], NOW, '"g1"'
    )
    assert records[0] is not None
    assert deferred == [1]


def test_integer_rules():
    count = FieldSpec("count", "integer", min=0, max=1000)
    assert check(count, 7) is None
    assert check(count, 1.5) == ("wrong_type", "count=1.5 is not an integer")
    assert check(count, 2.0) == ("wrong_type", "count=2.0 is not an integer")
    assert check(count, 10**16) == ("wrong_type", f"count={10**16} is too large")
    assert check(count, 1001) == ("out_of_range", "count=1001 outside [0, 1000]")
    assert check(FieldSpec("x", "number"), 10**400) == (
        "sensor_error",
        f"x={str(10**400)[:40]} is not finite",
    )
