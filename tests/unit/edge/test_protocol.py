"""The line protocol: what the firmware sends parses; every kind of damage is named."""

from __future__ import annotations

import binascii

import pytest

from sensorpipe_edge.protocol import MAX_LINE_BYTES, Rejected, crc16, encode, parse

pytestmark = pytest.mark.unit

# A line exactly as the firmware under simavr sent it (firmware/PROTOCOL.md example).
FIRMWARE_LINE = b"$node-01,0,U23,climate,temperature=23.5;humidity=41.0*00A2\r\n"


def reason(raw: bytes) -> str:
    with pytest.raises(Rejected) as exc:
        parse(raw)
    return exc.value.reason


def test_firmware_line_parses():
    line = parse(FIRMWARE_LINE)
    assert line.device_id == "node-01"
    assert line.seq == 0
    assert line.uptime_ms == 23
    assert line.epoch_ms is None
    assert line.stream == "climate"
    assert line.values == {"temperature": "23.5", "humidity": "41.0"}
    assert line.error is None


def test_crc_is_ccitt_false_like_avr_libc_xmodem_seeded_ffff():
    # CRC-16/CCITT-FALSE check value of "123456789" is 0x29B1.
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"abc") == binascii.crc_hqx(b"abc", 0xFFFF)


def test_encode_then_parse_round_trips():
    raw = encode("dev-7", 2**40, "motion", {"motion": True}, epoch_ms=1_700_000_000_000)
    line = parse(raw)
    assert (line.device_id, line.seq, line.epoch_ms, line.values) == (
        "dev-7",
        2**40,
        1_700_000_000_000,
        {"motion": "1"},
    )


def test_sensor_error_is_a_valid_line_carrying_the_code():
    line = parse(encode("node-01", 5, "climate", error="dht_timeout", uptime_ms=9))
    assert line.error == "dht_timeout"
    assert line.values == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"node-01,0,U23,climate,temperature=23.5*00A2", "malformed_line"),  # no '$'
        (b"$node-01,0,U23,climate,temperature=23.5", "malformed_line"),  # no checksum
        (b"$node-01,0,U23,climate,temperature=23.5*00G2", "malformed_line"),
        (FIRMWARE_LINE.replace(b"23.5", b"23.6"), "checksum_mismatch"),
        (FIRMWARE_LINE[:30], "malformed_line"),  # cut line
        (b"$" + b"x" * (MAX_LINE_BYTES + 10) + b"*0000", "line_too_long"),
        (encode("d", 1, "s", {"a": 1}).replace(b"d,", b"\xff,"), "checksum_mismatch"),
        (encode("d\u00e9", 1, "s", {"a": 1}), "malformed_line"),
        (encode("d", -1, "s", {"a": 1}), "malformed_line"),
        (encode("d", 2**53, "s", {"a": 1}), "malformed_line"),
        (encode("", 1, "s", {"a": 1}), "malformed_line"),
        (encode("d", 1, "s", {"a": ""}), "malformed_line"),
    ],
)
def test_damage_is_named(raw, expected):
    assert reason(raw) == expected


def test_non_utf8_with_a_valid_checksum_is_not_utf8():
    body = b"d\xff,1,,s,a=1"
    raw = b"$" + body + b"*%04X" % crc16(body)
    assert reason(raw) == "not_utf8"


def test_duplicate_field_is_malformed_and_names_the_device():
    raw = b"dev-1,1,,s,a=1;a=2"
    with pytest.raises(Rejected) as exc:
        parse(b"$" + raw + b"*%04X" % crc16(raw))
    assert (exc.value.reason, exc.value.device_id) == ("malformed_line", "dev-1")
