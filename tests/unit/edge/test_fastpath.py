"""The compiled step (``_fastpath.c`` behind ``shortcut.Shortcut``) against the Python path.

For every line, the step either defers it or gives byte for byte the record that
``RecordBuilder.reading(parse(line))`` gives; ``RecordBuilder.records``, which combines
the two, gives for a batch exactly what the Python path gives line by line. And the step
does not simply defer everything: well-formed, in-range lines of known shapes are its own.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorpipe_edge import layout
from sensorpipe_edge.config import GatewayConfig, from_document
from sensorpipe_edge.protocol import MAX_LINE_BYTES, Rejected, crc16, encode, parse
from sensorpipe_edge.readings import MAX_KNOWN_SHAPES, RecordBuilder
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.shortcut import Record, Shortcut
from sensorpipe_edge.simulation import corrupt
from tests.unit.edge.documents import pipeline_document

pytestmark = pytest.mark.unit

NOW = 1_700_000_000_123
CONFIG = from_document(pipeline_document(), {})
GATEWAY_JSON = layout.dumps(CONFIG.gateway)
DEVICES = ["a", "node-01", "Z_9.x-y", "d" * 64]
# What the step takes on itself (its header comment): texts the Python path may write
# differently (more digits, longer exponents) are left to that path.
OWN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,9})?(?:[eE][-+]?[0-9]{1,2})?")
CHECKS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _sealed(body: bytes, end: bytes = b"\r\n") -> bytes:
    return b"$" + body + b"*%04X" % crc16(body) + end


class Paths:
    """A RecordBuilder and a Shortcut that know the shapes of every device in DEVICES
    (learnt the way the gateway learns them: after the Python path accepted a line)."""

    def __init__(self, config: GatewayConfig = CONFIG) -> None:
        self.builder = RecordBuilder(config, compile_validator())
        self.shortcut = Shortcut(config.streams, MAX_KNOWN_SHAPES)
        for device in DEVICES:
            for stream in config.streams.values():
                values = {
                    f.name: True if f.type == "boolean" else f.min or 0
                    for f in stream.fields.values()
                }
                if not isinstance(self.python(encode(device, 1, stream.name, values)), str):
                    self.shortcut.learn(device, stream.name)

    def python(self, raw: bytes) -> Record | str:
        """The Python path's record, or its reason."""
        try:
            return self.builder.reading(parse(raw), NOW)
        except Rejected as exc:
            return exc.reason

    def step(self, raw: bytes) -> Record | None:
        """The compiled step's record, or None where it defers."""
        records, deferred = self.shortcut.records([raw], NOW, GATEWAY_JSON)
        assert deferred == ([0] if records[0] is None else [])
        return records[0]

    def agree(self, raw: bytes) -> Record | None:
        """Asserts the step gives what the Python path gives (or defers) and the batch
        call gives the Python path's outcome; returns the step's record."""
        python, step = self.python(raw), self.step(raw)
        if step is not None:
            assert step == python
        records, rejected = self.builder.records([raw], NOW)
        if isinstance(python, str):
            assert (records, [(i, r.reason) for i, r in rejected]) == ([], [(0, python)])
        else:
            assert (records, rejected) == ([python], [])
        return step


@pytest.fixture(scope="module")
def paths() -> Paths:
    return Paths()


def _line(
    device: str, stream: str, payload: bytes, when: bytes = b"U5", seq: bytes = b"9"
) -> bytes:
    """A sealed line, by default "$<device>,9,U5,<stream>,<payload>*<crc>\\r\\n"."""
    return _sealed(b"%s,%s,%s,%s,%s" % (device.encode(), seq, when, stream.encode(), payload))


@pytest.mark.parametrize(
    "raw",
    [
        encode("a", 0, "climate", {"temperature": 23.5, "humidity": 41.0}, uptime_ms=23),
        encode("node-01", 2**40, "distance", {"distance": 57}, epoch_ms=NOW - 5),
        encode("d" * 64, 999_999_999_999_999, "motion", {"motion": False}),
        _line("a", "motion", b"motion=true"),
        _line("a", "motion", b"motion=false", when=b""),
        _line("a", "distance", b"distance=400", seq=b"007"),  # leading zeros: int() drops them
        _line("a", "distance", b"distance=2", when=b"T0001700000000000"[:16]),
        _line("a", "distance", b"distance=4e2"),  # written as Python writes 400.0
        _line("a", "distance", b"distance=2.000000000"),
        _line("a", "distance", b"distance=0.2E+01"),
        _line("a", "climate", b"temperature=-40;humidity=100"),  # both bounds
        _line("a", "climate", b"temperature=-0;humidity=0.0"),  # int("-0") is 0
        _line("a", "climate", b"temperature=-0.0;humidity=1e-05"),
        _line("a", "climate", b"temperature=80.000;humidity=99.99999999"),
        _line("a", "climate", b"temperature=0.0001;humidity=0.00001"),  # repr: 1e-05
        _line("a", "climate", b"temperature=-39.000000001;humidity=12.3456789"),
        _line("a", "distance", b"distance=123.456789012"),  # 12 digits
        _line("a", "distance", b"distance=399.999999999"),
        _line("a", "distance", b"distance=50", when=b"U0").rstrip(b"\r\n"),  # no line end
        _line("a", "distance", b"distance=50") + b"\n\r\n",
    ],
)
def test_well_formed_in_range_lines_are_the_steps_own(paths, raw):
    assert paths.agree(raw) is not None


@pytest.mark.parametrize(
    "raw",
    [
        # Rule breaks: the Python path names them.
        _line("a", "distance", b"distance=401"),
        _line("a", "distance", b"distance=1.9999999"),
        _line("a", "distance", b"distance=4.0001e2"),
        _line("a", "climate", b"temperature=-40.5;humidity=5"),
        _line("a", "climate", b"temperature=5"),
        _line("a", "climate", b"humidity=5;temperature=5;x=1"),
        _line("a", "distance", b"distance="),
        _line("a", "distance", b"distance=far"),
        _line("a", "distance", b"distance=1e999"),
        _line("a", "distance", b"distance=007"),
        _line("a", "distance", b"distance=5;distance=5"),
        _line("a", "motion", b"motion=2"),
        _line("a", "motion", b"motion=True"),
        _line("a", "distance", b"ERR=no_echo"),
        _line("a", "pressure", b"p=1"),
        _line("a", "distance", b"distance=5", when=b"X5"),
        _line("a", "distance", b"distance=5", when=b"T"),
        _line("a", "distance", b"distance=5", seq=b""),
        _line("a", "distance", b"distance=5", seq=b"9" * 17),
        _line("", "distance", b"distance=5"),
        _line("-bad", "distance", b"distance=5"),
        _line("a", "distance", b"distance=5,x"),
        _line("a", "distance", b"distance=5\xff"),
        _line("a\xc3\xa9", "distance", b"distance=5"),
        _line("a", "distance", b"distance=5")[:-3],
        _line("a", "distance", b"distance=5").replace(b"distance=5", b"distance=6"),
        b"",
        b"\r\n",
        b"$*FFFF",
        b"$" + b"," * 300,
        _sealed(b"a,9,U5,distance,distance=5" + b"0" * 100_000),  # huge, sealed
        _sealed(b"a,9,U5,distance,distance=5.5" + b"0" * 1_000),
        # Accepted by the Python path, but not the step's to decide.
        _line("a", "climate", b"humidity=5;temperature=5"),  # fields in another order
        _line("a", "distance", b"distance=2.0000000001"),  # ten decimals
        _line("a", "distance", b"distance=0.4e003"),  # three exponent digits
        _line("a", "distance", b"distance=5", seq=b"1" + b"0" * 15),
        _line("a", "distance", b"distance=5", when=b"U" + b"1" * 16),
        _line("new-device", "distance", b"distance=5"),  # a shape not yet learnt
        _line("a", "distance", b"distance=5").replace(b"*132A", b"*132a"),  # lower-case hex
    ],
)
def test_everything_else_is_deferred_to_the_python_path(paths, raw):
    assert paths.agree(raw) is None


def test_lines_longer_than_the_protocol_allows_are_deferred():
    """The limit counts the raw line with its ending, as the Python path does; a stream
    with many fields is needed to make such a line well-formed otherwise."""
    doc = pipeline_document()
    doc["streams"].append({"name": "wide", "fields": [{"name": f"f{i}"} for i in range(12)]})
    doc["topics"]["streams"]["wide"] = "farm.wide"
    paths = Paths(from_document(doc, {}))
    device, seq, when = DEVICES[-1], b"9" * 15, b"T" + b"1" * 15
    for size in (MAX_LINE_BYTES - 1, MAX_LINE_BYTES, MAX_LINE_BYTES + 1):
        digits = [1] * 12  # fraction digits per field, 1-9: spread the size over them
        while len(raw := _line(device, "wide", _wide(digits), when, seq)) < size:
            digits[digits.index(min(digits))] += 1
        assert len(raw) == size
        if size > MAX_LINE_BYTES:
            assert paths.python(raw) == "line_too_long"
        assert (paths.agree(raw) is None) == (size > MAX_LINE_BYTES)


def _wide(digits: list[int]) -> bytes:
    return b";".join(b"f%d=1.%s" % (i, b"1" * n) for i, n in enumerate(digits))


@pytest.mark.parametrize(
    "field",
    [
        {"name": "a", "max": 2**60 + 1},  # no double is this bound
        {"name": "a", "min": -(10**400)},
        {"name": "a;b"},  # cannot be told from the separators
        {"name": "a", "min": 0, "max": 10},
    ],
)
def test_streams_the_step_cannot_take_are_left_to_python(field):
    doc = pipeline_document()
    doc["streams"].append({"name": "odd", "fields": [field]})
    doc["topics"]["streams"]["odd"] = "farm.odd"
    paths = Paths(from_document(doc, {}))
    raw = _line("a", "odd", b"%s=5" % field["name"].encode())
    taken = paths.agree(raw) is not None
    assert taken == (field["name"] == "a" and len(field) == 3)


def test_a_batch_keeps_its_order_and_the_positions_of_its_rejects(paths):
    lines = [
        _line("a", "distance", b"distance=%d" % d, seq=b"%d" % i)
        for i, d in enumerate([5, 401, 6, 7, 0, 8])
    ]
    lines[3] = _line("a", "distance", b"distance=7", seq=b"1" + b"0" * 15)  # deferred, accepted
    lines.insert(2, _line("brand-new", "motion", b"motion=1"))  # deferred, learnt
    records, rejected = paths.builder.records(lines, NOW)
    python = [paths.python(raw) for raw in lines]
    assert records == [r for r in python if not isinstance(r, str)]
    assert [(i, r.reason) for i, r in rejected] == [
        (i, r) for i, r in enumerate(python) if isinstance(r, str)
    ]
    assert len(rejected) == 2


numbers = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,16})(\.[0-9]{1,10})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.floats(-1e6, 1e6).map(repr),
    st.builds(  # decimals near what repr() writes: trailing zeros, tiny, 15-16 digits
        lambda sign, whole, zeros, digits, trailing: f"{sign}{whole}.{zeros}{digits}{trailing}",
        st.sampled_from(["", "-"]),
        st.sampled_from(["0", "1", "12", "99", "123456"]),
        st.sampled_from(["", "0", "00", "000", "0000", "00000"]),
        st.sampled_from(["", "1", "25", "5", "999999999", "123456789"]),
        st.sampled_from(["", "0", "00"]),
    ).filter(lambda text: not text.endswith(".")),
    st.integers(-100, 500).map(str),
    st.text(alphabet="0123456789-+.eE;=x", max_size=12),
)
booleans = st.sampled_from(["1", "0", "true", "false", "yes", "2", "", "TRUE"])


def _own(text: str, lo: float, hi: float) -> bool:
    return bool(OWN_NUMBER.fullmatch(text)) and lo <= float(text) <= hi


@CHECKS
@given(
    device=st.sampled_from(DEVICES),
    seq=st.integers(0, 10**15 - 1),
    when=st.sampled_from(["", "U", "T"]),
    t=st.integers(0, 10**15 - 1),
    temperature=numbers,
    humidity=numbers,
    distance=numbers,
    motion=booleans,
)
def test_the_step_agrees_with_the_python_path_on_generated_values(
    paths, device, seq, when, t, temperature, humidity, distance, motion
):
    stamp = f"{when}{t}" if when else ""
    climate = f"temperature={temperature};humidity={humidity}"
    for stream, payload, own in [
        ("climate", climate, _own(temperature, -40, 80) and _own(humidity, 0, 100)),
        ("distance", f"distance={distance}", _own(distance, 2, 400)),
        ("motion", f"motion={motion}", motion in {"1", "0", "true", "false"}),
    ]:
        raw = _sealed(f"{device},{seq},{stamp},{stream},{payload}".encode())
        assert (paths.agree(raw) is not None) == own


@CHECKS
@given(
    raw=st.one_of(
        st.binary(max_size=300),
        st.builds(
            corrupt,
            st.builds(lambda d: _line("a", "distance", b"distance=%d" % d), st.integers(2, 400)),
            st.integers(0, 2**64 - 1),
        ),
        st.builds(
            lambda body, cut, junk: _sealed(body[:cut] + junk + body[cut:]),
            st.sampled_from([b"a,1,U5,distance,distance=50", b"node-01,2,,motion,motion=1"]),
            st.integers(0, 30),
            st.binary(max_size=3),
        ),
    )
)
def test_the_step_agrees_with_the_python_path_on_damaged_input(paths, raw):
    paths.agree(raw)
