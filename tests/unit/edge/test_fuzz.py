"""Property-based: no input crashes the gateway's pipeline, every reject has a contract reason.

The same function the gateway runs per line (parse, then build the reading) is fed random
bytes, cut and spliced valid lines, flipped bits, huge lines and non-UTF-8; it must either
return a record that satisfies the schema or raise Rejected with one of the reasons of
docs/contracts.md §3, and the dead-letter record built from it must be valid JSON that
holds the raw input.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorpipe_edge.config import from_document
from sensorpipe_edge.framing import LineFramer
from sensorpipe_edge.protocol import Rejected, _parse_checked, encode, parse
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.simulation import corrupt
from tests.unit.edge.documents import pipeline_document

pytestmark = pytest.mark.unit

REASONS = {
    "checksum_mismatch",
    "malformed_line",
    "line_too_long",
    "not_utf8",
    "unknown_stream",
    "unknown_field",
    "missing_field",
    "wrong_type",
    "out_of_range",
    "sensor_error",
    "schema_violation",
}
VALIDATE = compile_validator()

valid_lines = st.builds(
    lambda dev, seq, t, h: encode(dev, seq, "climate", {"temperature": t, "humidity": h}),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True),
    st.integers(0, 2**53 - 1),
    st.floats(-40, 80).map(lambda x: round(x, 1)),
    st.floats(0, 100).map(lambda x: round(x, 1)),
)


def outcome(builder: RecordBuilder, raw: bytes) -> str:
    """'ok' or the reject reason; asserts the dead-letter record is well formed."""
    try:
        _topic, _key, value = builder.reading(parse(raw), 1)
    except Rejected as exc:
        rej = exc
    else:
        VALIDATE(json.loads(value))
        return "ok"
    assert rej.reason in REASONS
    _dl_key, dl = builder.dead_letter(raw, rej, "fuzz", 1)
    record = json.loads(dl)
    assert record["reason"] == rej.reason
    assert record["raw"] == raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    return rej.reason


@pytest.fixture(scope="module")
def builder():
    return RecordBuilder(from_document(pipeline_document(), {}), VALIDATE)


FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ
@given(raw=st.binary(max_size=600))
def test_random_bytes_never_crash(builder, raw):
    outcome(builder, raw)


@FUZZ
@given(line=valid_lines)
def test_valid_lines_are_accepted(builder, line):
    assert outcome(builder, line) == "ok"


@FUZZ
@given(line=valid_lines, data=st.data())
def test_cut_lines_are_rejected(builder, line, data):
    cut = data.draw(st.integers(1, len(line) - 3))
    assert outcome(builder, line[:cut]) in {"malformed_line", "checksum_mismatch"}


@FUZZ
@given(line=valid_lines, h=st.integers(0, 2**64 - 1))
def test_a_flipped_bit_is_always_caught(builder, line, h):
    assert outcome(builder, corrupt(line, h)) in {"checksum_mismatch", "malformed_line"}


@FUZZ
@given(line=valid_lines, junk=st.binary(min_size=1, max_size=2), data=st.data())
def test_overwritten_bytes_are_rejected(builder, line, junk, data):
    # Any error burst of at most 16 bits is caught by a CRC-16: no lucky collisions here.
    at = data.draw(st.integers(1, line.rfind(b"*") - len(junk)))
    damaged = line[:at] + junk + line[at + len(junk) :]
    expected = "ok" if damaged == line else "rejected"
    got = outcome(builder, damaged)
    assert (got if got == "ok" else "rejected") == expected


@FUZZ
@given(size=st.integers(257, 100_000), fill=st.sampled_from([b"x", b"$", b"\xff", b","]))
def test_huge_lines_are_too_long_and_framed_without_unbounded_buffering(builder, size, fill):
    framer = LineFramer()
    lines = framer.feed(fill * size) + framer.feed(b"\n")
    assert len(lines) == 1
    assert outcome(builder, lines[0]) == "line_too_long"
    assert len(lines[0]) <= 1024


@FUZZ
@given(line=valid_lines, bad=st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"]))
def test_non_utf8_is_rejected(builder, line, bad):
    assert outcome(builder, line.replace(b",", b"," + bad, 1)) in REASONS


def _either(fn, raw: bytes) -> object:
    try:
        return fn(raw)
    except Rejected as exc:
        return exc.reason


@FUZZ
@given(
    raw=st.one_of(
        valid_lines,
        st.binary(max_size=300),
        st.builds(corrupt, valid_lines, st.integers(0, 2**64 - 1)),
        valid_lines.map(lambda b: b.replace(b",", b",0", 1)),
        valid_lines.map(lambda b: b.rstrip(b"\r\n")),
    )
)
def test_fast_path_agrees_with_the_step_by_step_parser(raw):
    assert _either(parse, raw) == _either(_parse_checked, raw)
