"""The cheap way from a protocol line to its Kafka record, for lines of a known shape.

A *shape* is a (device, stream) pair whose first record passed the general path of
``readings.RecordBuilder`` including the full schema check. Of a record's properties,
only ``device_id`` and the stream's field set can break the schema in ways the protocol
does not already rule out, so once a shape is known, a line of it needs only what can
differ from line to line: its CRC, a sequence number and time that are JSON integers
below 2**53, and a payload with exactly the stream's fields, in declared order, whose
texts are JSON numbers (or protocol booleans) inside the declared ranges. That is one
``bytes.split``, one CRC, one small regex per field group and a few comparisons, and the
record is assembled from bytes prepared when the shape was learnt.

``record`` returns None for anything it does not cover (a new shape, lower-case hex, a
number the general path would write differently, a rule break): the general path then
decides and names the reason. So the shortcut can only be slower, never different; the
unit and fuzz tests hold the two to the same output.
"""

from __future__ import annotations

import json
import math
import re
from binascii import crc_hqx
from typing import NamedTuple

from sensorpipe_edge.config import StreamSpec
from sensorpipe_edge.protocol import CRC_INIT

Record = tuple[str, bytes, bytes]

# A JSON number text the shortcut may copy into the record as is: at most 15 integer
# digits (so float() of an integer is exact and compares with the ranges like the general
# path's int does) and a two-digit exponent (so it is always finite).
_NUMBER = rb"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,9})?(?:[eE][-+]?[0-9]{1,2})?"
_BOOLEAN = rb"1|0|true|false"
_BOOLEAN_JSON = {b"1": b"true", b"true": b"true", b"0": b"false", b"false": b"false"}
# Digits are copied as they are when they make a JSON integer below 2**53: at most 15,
# no leading zero (so a lone "0" takes the general path): cheaper than int() and back.
_T, _U, _ZERO = ord("T"), ord("U"), ord("0")
# The end of a line by its CRC: a table lookup instead of parsing the hex digits.
_SEALS = [b"*%04X" % crc for crc in range(1 << 16)]
_UPTIME = b',"device_uptime_ms":'


class _Stream(NamedTuple):
    """How a stream's payload is checked and turned into the ``values`` JSON object."""

    topic: str
    payload: re.Pattern[bytes]  # the fields in declared order, one group per value
    template: bytes  # the values object's members, a %s per group
    booleans: tuple[int, ...]  # groups that are protocol booleans
    ranges: tuple[tuple[int, float, float], ...]  # (group, min, max) of bounded numbers


class _Shape(NamedTuple):
    topic: str
    key: bytes
    prefix: bytes  # the record up to the value of "seq"
    payload: re.Pattern[bytes]
    template: bytes
    booleans: tuple[int, ...]
    ranges: tuple[tuple[int, float, float], ...]


def _json_bytes(text: str) -> bytes:
    """``text`` as a JSON string (the same encoder as the general path's)."""
    return json.dumps(text, ensure_ascii=False).encode()


def _stream(spec: StreamSpec) -> _Stream:
    parts, members, booleans, ranges = [], [], [], []
    for i, field in enumerate(spec.fields.values()):
        boolean = field.type == "boolean"
        value = _BOOLEAN if boolean else _NUMBER
        parts.append(re.escape(field.name.encode()) + b"=(" + value + b")")
        members.append(_json_bytes(field.name).replace(b"%", b"%%") + b":%s")
        if boolean:
            booleans.append(i)
        elif field.min is not None or field.max is not None:
            lo = -math.inf if field.min is None else float(field.min)
            hi = math.inf if field.max is None else float(field.max)
            ranges.append((i, lo, hi))
    return _Stream(
        spec.topic,
        re.compile(b";".join(parts)),
        b",".join(members),
        tuple(booleans),
        tuple(ranges),
    )


class Shortcut:
    """The known shapes of one gateway and the fast path for their lines."""

    def __init__(self, streams: dict[str, StreamSpec], gateway: str, limit: int) -> None:
        self._streams = {name.encode(): _stream(spec) for name, spec in streams.items()}
        self._gateway = _json_bytes(gateway)
        self._limit = limit
        self._shapes: dict[tuple[bytes, bytes], _Shape] = {}

    def learn(self, device_id: str, stream: str) -> None:
        """Remember a shape whose record passed the full check; past ``limit`` shapes the
        memory starts over (correct, only slower until they are learnt again)."""
        if len(self._shapes) >= self._limit:
            self._shapes.clear()
        device, name = device_id.encode(), stream.encode()
        s = self._streams[name]
        prefix = b'{"v":1,"device_id":%s,"stream":%s,"seq":' % (
            _json_bytes(device_id),
            _json_bytes(stream),
        )
        self._shapes[(device, name)] = _Shape(
            s.topic, device, prefix, s.payload, s.template, s.booleans, s.ranges
        )

    def known(self, device_id: str, stream: str) -> bool:
        return (device_id.encode(), stream.encode()) in self._shapes

    def stamp(self, received_at: int) -> tuple[bytes, bytes]:
        """What every record of a batch shares: the receive time as JSON, and the members
        from ``received_at`` up to the opening of ``values``."""
        return b"%d" % received_at, b',"received_at":%d,"gateway":%s,"values":{' % (
            received_at,
            self._gateway,
        )

    def record(self, raw: bytes, now: bytes, middle: bytes) -> Record | None:
        """The record of ``raw`` if it is a well-formed line of a known shape whose values
        the shortcut can copy, else None (``now`` and ``middle`` come from ``stamp``)."""
        line = raw.rstrip(b"\r\n")
        body = line[1:-5]
        if line[-5:] != _SEALS[crc_hqx(body, CRC_INIT)] or line[:1] != b"$":
            return None
        try:
            device, seq, when, stream, payload = body.split(b",")
        except ValueError:  # not five fields
            return None
        shape = self._shapes.get((device, stream))
        if shape is None or not (seq.isdigit() and len(seq) <= 15 and seq[0] != _ZERO):
            return None
        topic, key, prefix, pattern, template, booleans, ranges = shape
        m = pattern.fullmatch(payload)
        if m is None:
            return None
        values = m.groups()
        for i, lo, hi in ranges:
            if not lo <= float(values[i]) <= hi:
                return None
        if booleans:
            texts = list(values)
            for i in booleans:
                texts[i] = _BOOLEAN_JSON[texts[i]]
            values = tuple(texts)
        event_time, uptime = now, b""
        if when:
            digits = when[1:]
            if not digits.isdigit() or len(digits) > 15:
                return None
            if when[:1] == b"T":
                event_time = b"%d" % int(digits)
            elif when[:1] == b"U":
                uptime = b"%s%d" % (_UPTIME, int(digits))
            else:
                return None
        value = b'%s%d,"event_time":%s%s%s}%s}' % (
            prefix,
            int(seq),
            event_time,
            middle,
            template % values,
            uptime,
        )
        return topic, key, value
