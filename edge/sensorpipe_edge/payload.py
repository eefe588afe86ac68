"""Foreign JSON payloads by declaration: the gateway source's ``payload`` mapping.

Devices and producers that were never written for sensorpipe (the seeds' ``producer.py``
scripts, an EMQX bridge) send one JSON object per message, such as
``{"device_id": "device_1", "temperature": 21.5, "humidity": 40.2, "timestamp": 1764770000}``.
A gateway whose source declares a mapping (which member is the device id, the time, the
sequence number and each field of one stream) turns such a payload into the same reading a
protocol line would give; everything after that (types, ranges, the reading schema) is the
general path of ``readings.RecordBuilder``. Pure: payload in, ``Extracted`` out or
``Rejected`` with a reason, so the unit tests need no services.

Payloads without a sequence number get one from the Kafka record's coordinates (see
``kafka_seq``), from their content when they carry their time (see ``content_seq``), or from
the gateway (see ``GatewaySeq``); ``edge/README.md`` says which and why.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sensorpipe_edge.protocol import MAX_SEQ, Rejected

Path = tuple[str, ...]
TIME_UNITS = ("s", "ms", "rfc3339")
MAX_PAYLOAD_BYTES = 64 * 1024
# The reading schema's device id pattern: a foreign id must already be one (never rewritten,
# so the same device always has the same id).
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MISSING = object()
# Kafka: a record's seq is partition * 2**40 + offset (2**40 records per partition and
# 2**13 partitions stay below 2**53, the schema's bound).
PARTITION_SHIFT = 40
MAX_PARTITION = (MAX_SEQ >> PARTITION_SHIFT) - 1
# The gateway's own numbers: receive time in ms * 1024, + 1 per reading (below 2**53 until 2248).
SEQ_BASE_FACTOR = 1024
MAX_COUNTED_DEVICES = 200_000


def _path(text: str) -> Path:
    return tuple(text.split("."))


@dataclass(frozen=True, slots=True)
class PayloadMapping:
    """Where a payload keeps each part of a reading; paths are JSON member names, nested
    objects separated by dots (``meta.id``)."""

    stream: str
    device_id: Path
    fields: dict[str, Path]
    time: Path | None = None
    time_unit: str = "ms"
    seq: Path | None = None

    @classmethod
    def from_document(cls, block: Mapping[str, Any]) -> PayloadMapping:
        """The mapping of the runtime document's ``source.payload`` (the operator resolved
        every default: ``fields`` names every field of the stream)."""
        if block.get("format", "json") != "json":
            raise ValueError(f"unknown payload format {block.get('format')!r}")
        unit = block.get("timeUnit") or "ms"
        if unit not in TIME_UNITS:
            raise ValueError(f"unknown timeUnit {unit!r}")
        return cls(
            stream=block["stream"],
            device_id=_path(block["deviceId"]),
            fields={name: _path(member) for name, member in block["fields"].items()},
            time=_path(block["time"]) if block.get("time") else None,
            time_unit=unit,
            seq=_path(block["seq"]) if block.get("seq") else None,
        )


@dataclass(frozen=True, slots=True)
class Extracted:
    """What a payload says, values still as JSON gave them (typed by ``readings``)."""

    device_id: str
    seq: int | None
    epoch_ms: int | None
    stream: str
    values: dict[str, Any]


def member(doc: Any, path: Path) -> Any:
    """The value at ``path`` in ``doc``, or ``_MISSING``."""
    for name in path:
        if not isinstance(doc, dict) or name not in doc:
            return _MISSING
        doc = doc[name]
    return doc


def _name(path: Path) -> str:
    return ".".join(path)


def _device_id(doc: Any, path: Path) -> str:
    """A string id as is, an integer id (``sensor_id: 42``) as its decimal text."""
    value = member(doc, path)
    if value is _MISSING or value is None:
        raise Rejected("bad_device_id", f"no member {_name(path)!r}")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _DEVICE_ID.fullmatch(value):
        raise Rejected("bad_device_id", f"{_name(path)}={str(value)[:40]!r} is no device id")
    return value


def _time(doc: Any, path: Path, unit: str, device_id: str) -> int:
    """The device's time as epoch milliseconds."""
    value = member(doc, path)
    if value is _MISSING or value is None:
        raise Rejected("bad_time", f"no member {_name(path)!r}", device_id)
    bad = Rejected("bad_time", f"{_name(path)}={str(value)[:40]!r} is no {unit} time", device_id)
    if unit == "rfc3339":
        if not isinstance(value, str):
            raise bad
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # a time without offset is taken as UTC
        ms = round(when.timestamp() * 1000)
    else:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if isinstance(value, float) and not math.isfinite(value * 1000):
            raise bad
        ms = round(value * 1000) if unit == "s" else round(value)
    if not 0 <= ms <= MAX_SEQ:
        raise Rejected("bad_time", f"{_name(path)}={value!r} is outside epoch time", device_id)
    return ms


def _seq(doc: Any, path: Path, device_id: str) -> int:
    value = member(doc, path)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEQ:
        shown = "missing" if value is _MISSING else repr(value)[:40]
        detail = f"{_name(path)} is {shown}, not an integer in [0, 2**53)"
        raise Rejected("bad_seq", detail, device_id)
    return int(value)


def extract(mapping: PayloadMapping, payload: bytes) -> Extracted:
    """The parts of the reading in ``payload``; ``Rejected`` names what does not map.

    Members the mapping does not name are ignored (foreign payloads carry more than a
    reading); a field of the stream that is absent is ``missing_field``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Rejected("line_too_long", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")  # JSON is UTF-8 (RFC 8259): never guess another
    except UnicodeDecodeError:
        raise Rejected("not_utf8", "payload is not valid UTF-8") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise Rejected("not_json", f"payload is not JSON: {str(exc)[:80]}") from None
    except RecursionError:  # nested deeper than the parser goes: no reading is like that
        raise Rejected("not_json", "payload nests too deep") from None
    if not isinstance(doc, dict):
        raise Rejected("not_json", f"payload is a JSON {type(doc).__name__}, not an object")
    device_id = _device_id(doc, mapping.device_id)
    values: dict[str, Any] = {}
    missing = []
    for field, path in mapping.fields.items():
        value = member(doc, path)
        if value is _MISSING or value is None:
            missing.append(_name(path))
        else:
            values[field] = value
    if missing:
        raise Rejected("missing_field", f"{mapping.stream} needs {', '.join(missing)}", device_id)
    return Extracted(
        device_id=device_id,
        seq=_seq(doc, mapping.seq, device_id) if mapping.seq else None,
        epoch_ms=_time(doc, mapping.time, mapping.time_unit, device_id) if mapping.time else None,
        stream=mapping.stream,
        values=values,
    )


def kafka_seq(partition: int, offset: int) -> int:
    """The sequence number of a foreign Kafka record without one: its coordinates, so the
    same record read again (after a crash, before its offset was committed) gets the same
    identity and is deduplicated downstream."""
    if not 0 <= partition <= MAX_PARTITION or not 0 <= offset < 1 << PARTITION_SHIFT:
        raise ValueError(f"partition {partition} offset {offset} do not fit a sequence number")
    return partition << PARTITION_SHIFT | offset


def content_seq(payload: bytes) -> int:
    """The sequence number of a timed foreign payload without one: 53 bits of a hash of its
    bytes. A payload that carries its time is one reading, so the same message delivered
    again (an MQTT redelivery after a crash) gets the same identity and the lake removes the
    copy; two different payloads of a device share a number once in 2**53 / n**2 times.
    Readings are ordered by their time, never by this number."""
    return int.from_bytes(hashlib.blake2b(payload, digest_size=8).digest()) & MAX_SEQ


class GatewaySeq:
    """Sequence numbers for a device whose payloads have neither a number nor a time: the
    first reading of a device in this gateway's run gets its receive time in ms * 1024, each
    next one +1. So numbers never repeat for a device across restarts (unless it sent over
    1024 readings per millisecond of the gateway's life) without any state on disk; a
    redelivered message gets a new one (at least once)."""

    def __init__(self, limit: int = MAX_COUNTED_DEVICES) -> None:
        self._next: dict[str, int] = {}
        self._limit = limit

    def next(self, device_id: str, received_at: int) -> int:
        seq = self._next.get(device_id)
        if seq is None:
            if len(self._next) >= self._limit:
                self._next.clear()  # a forgotten device restarts higher: still unique
            seq = received_at * SEQ_BASE_FACTOR
        self._next[device_id] = seq + 1
        return seq
