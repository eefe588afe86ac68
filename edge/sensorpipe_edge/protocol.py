"""The serial line protocol of firmware/PROTOCOL.md: encode and parse one line.

Pure functions, shared by the gateway (parse), the simulator and the tests (encode), so
the two sides can never drift apart. The CRC is CRC-16/CCITT-FALSE, which is what both
avr-libc's ``_crc_xmodem_update`` (seeded with 0xFFFF) and ``binascii.crc_hqx`` compute;
the latter runs in C, which matters at tens of thousands of lines per second.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LINE_BYTES = 256
CRC_INIT = 0xFFFF
MAX_SEQ = 2**53 - 1


class Rejected(Exception):
    """A line (or reading) that must go to the dead-letter topic, with a stable reason code.

    ``device_id`` is set once the line was trustworthy enough to name its device.
    """

    def __init__(self, reason: str, detail: str, device_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class Line:
    """One checksum-verified line, values still as the text the device sent."""

    device_id: str
    seq: int
    uptime_ms: int | None
    epoch_ms: int | None
    stream: str
    values: dict[str, str]
    error: str | None


def crc16(body: bytes) -> int:
    """CRC-16/CCITT-FALSE of the bytes between '$' and '*'."""
    return binascii.crc_hqx(body, CRC_INIT)


def encode(
    device_id: str,
    seq: int,
    stream: str,
    values: Mapping[str, object] | None = None,
    *,
    error: str | None = None,
    uptime_ms: int | None = None,
    epoch_ms: int | None = None,
) -> bytes:
    """One protocol line, CRLF-terminated; booleans are sent as 1/0 like the firmware does."""
    if epoch_ms is not None:
        when = f"T{epoch_ms}"
    elif uptime_ms is not None:
        when = f"U{uptime_ms}"
    else:
        when = ""
    if error is not None:
        payload = f"ERR={error}"
    else:
        payload = ";".join(f"{k}={_fmt(v)}" for k, v in (values or {}).items())
    body = f"{device_id},{seq},{when},{stream},{payload}".encode()
    return b"$" + body + b"*%04X\r\n" % crc16(body)


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)


# The shape of a well-formed line in one C-level match: the common case costs one regex
# call and one CRC. Anything it does not match takes the step-by-step path, which names
# the exact fault; a line both paths accept gives the same Line.
_WELL_FORMED = re.compile(
    rb"\$([A-Za-z0-9][A-Za-z0-9_.-]{0,63}),([0-9]{1,16}),(?:([UT])([0-9]{1,16}))?,"
    rb"([a-z][a-z0-9-]{0,30}),([ -)+\--~]+)\*([0-9A-Fa-f]{4})\r?\n?"
)


Fields = tuple[str, int, int | None, int | None, str, str]


def well_formed(raw: bytes) -> Fields | None:
    """(device, seq, uptime_ms, epoch_ms, stream, payload) of a well-formed line whose CRC
    matches, or None when the line needs the step-by-step diagnosis of ``parse``."""
    m = _WELL_FORMED.fullmatch(raw) if len(raw) <= MAX_LINE_BYTES else None
    if m is None or crc16(raw[1 : m.start(7) - 1]) != int(m.group(7), 16):
        return None
    device_id, seq_s, when, digits, stream, payload, _crc = m.groups()
    seq = int(seq_s)
    if seq > MAX_SEQ:
        return None
    uptime_ms = int(digits) if when == b"U" else None
    epoch_ms = int(digits) if when == b"T" else None
    return device_id.decode(), seq, uptime_ms, epoch_ms, stream.decode(), payload.decode()


def parse(raw: bytes) -> Line:
    """Verify and split one line (without or with its line ending); raise Rejected if bad."""
    fields = well_formed(raw)
    if fields is None:
        return _parse_checked(raw)
    return line_from(*fields)


def _parse_checked(raw: bytes) -> Line:
    """Step by step, cheapest check first, never trusting a field before the CRC matched,
    so a damaged line is reported as what it is (``checksum_mismatch``) and not as
    whatever its damage happens to look like."""
    if len(raw) > MAX_LINE_BYTES:
        raise Rejected("line_too_long", f"{len(raw)} bytes > {MAX_LINE_BYTES}")
    raw = raw.rstrip(b"\r\n")
    star = raw.rfind(b"*")
    if not raw.startswith(b"$") or star < 0 or len(raw) - star != 5:
        raise Rejected("malformed_line", "expected $<body>*<4 hex digits>")
    try:
        sent = int(raw[star + 1 :], 16)
    except ValueError:
        raise Rejected("malformed_line", "checksum is not hexadecimal") from None
    body = raw[1:star]
    got = crc16(body)
    if got != sent:
        raise Rejected("checksum_mismatch", f"line says {sent:04X}, content gives {got:04X}")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected("not_utf8", "line is not valid UTF-8") from None
        raise Rejected("malformed_line", "non-ASCII characters") from None
    parts = text.split(",")
    if len(parts) != 5:
        raise Rejected("malformed_line", f"{len(parts)} comma-separated fields, expected 5")
    device_id, seq_s, when, stream, payload = parts
    if not device_id:
        raise Rejected("malformed_line", "empty device id")
    if not (seq_s.isdigit() and len(seq_s) <= 16) or int(seq_s) > MAX_SEQ:
        raise Rejected("malformed_line", f"bad sequence number {seq_s[:20]!r}", device_id)
    uptime_ms = epoch_ms = None
    if when:
        digits = when[1:]
        if not (digits.isdigit() and len(digits) <= 16) or when[0] not in "UT":
            raise Rejected("malformed_line", f"bad time field {when[:20]!r}", device_id)
        if when[0] == "U":
            uptime_ms = int(digits)
        else:
            epoch_ms = int(digits)
    return line_from(device_id, int(seq_s), uptime_ms, epoch_ms, stream, payload)


def line_from(
    device_id: str, seq: int, uptime_ms: int | None, epoch_ms: int | None, stream: str, payload: str
) -> Line:
    """The Line of a verified line, its payload split into fields or a sensor error."""
    if payload.startswith("ERR="):
        return Line(device_id, seq, uptime_ms, epoch_ms, stream, {}, payload[4:] or "?")
    values: dict[str, str] = {}
    for item in payload.split(";"):
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise Rejected("malformed_line", f"bad value {item[:40]!r}", device_id)
        if key in values:
            raise Rejected("malformed_line", f"field {key!r} given twice", device_id)
        values[key] = value
    return Line(device_id, seq, uptime_ms, epoch_ms, stream, values, None)


def raw_text(raw: bytes) -> str:
    """The input as text for the dead-letter record: undecodable bytes as \\xNN."""
    return raw.decode("utf-8", errors="backslashreplace")
