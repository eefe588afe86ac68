"""From a verified protocol line to the Kafka record of the contract, or a rejection.

Pure: configuration in, (topic, key, value) out, so the same code serves the gateway's
hot loop, the benchmark and the unit tests. Checks follow docs/contracts.md §3: the
stream must be declared, its fields present, typed and inside the declared range, and the
finished record must satisfy schemas/reading.schema.json.

The hot path is shaped by cost. Of a record's properties, only ``device_id`` and the
stream's field set can break the schema in ways the parser does not already rule out
(``seq`` and the times are integers in range by construction, values are finite numbers
or booleans by ``convert``), so the full schema check runs once per (device, stream) and
later records of that pair skip it; and the JSON is written by hand from those checked
parts (device ids and stream names cannot contain characters JSON would escape), which
is several times cheaper than ``json.dumps``. ``record`` goes one step further for lines
of a known (device, stream): one regex per stream matches the whole payload in the
declared field order, and the number texts (JSON number grammar) go into the JSON as
sent, after their range check. Whatever the shortcuts do not cover takes the general path,
which also names the reason of a rejection. The unit tests hold every accepted record to
the full schema and the shortcut to the general path's output.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sensorpipe_edge.config import FieldSpec, GatewayConfig, StreamSpec
from sensorpipe_edge.protocol import Line, Rejected, line_from, parse, raw_text, well_formed
from sensorpipe_edge.schema import SchemaError, Validator

_NUMBER_RE = r"-?(?:0|[1-9]\d{0,15})(?:\.\d{1,9})?(?:[eE][-+]?\d{1,3})?"
_NUMBER = re.compile(_NUMBER_RE)
_BOOLEAN_RE = r"1|0|true|false"
_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
MAX_CHECKED_SHAPES = 1_000_000  # (device, stream) pairs remembered as schema-checked


def _json_scalar(v: float | int | bool) -> str:
    """A checked value as JSON: repr of a finite float or an int is valid JSON."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return repr(v)


def convert(spec: FieldSpec, text: str, device_id: str) -> float | int | bool:
    """One field's text as its declared type, inside its declared range."""
    if spec.type == "boolean":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise Rejected("wrong_type", f"{spec.name}={text[:40]!r} is not a boolean", device_id)
    if not _NUMBER.fullmatch(text):
        raise Rejected("wrong_type", f"{spec.name}={text[:40]!r} is not a number", device_id)
    value: float | int = int(text) if text.lstrip("-").isdigit() else float(text)
    if not math.isfinite(value):
        raise Rejected("wrong_type", f"{spec.name}={text[:40]!r} is not finite", device_id)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise Rejected(
            "out_of_range", f"{spec.name}={value} outside [{spec.min}, {spec.max}]", device_id
        )
    return value


def typed_values(stream: StreamSpec, line: Line) -> dict[str, float | int | bool]:
    """All of the stream's fields, converted; unknown or missing fields are rejected."""
    fields = stream.fields
    for name in line.values:
        if name not in fields:
            raise Rejected("unknown_field", f"{stream.name} has no field {name!r}", line.device_id)
    if len(line.values) != len(fields):
        missing = sorted(set(fields) - set(line.values))
        raise Rejected("missing_field", f"{stream.name} needs {', '.join(missing)}", line.device_id)
    return {name: convert(fields[name], text, line.device_id) for name, text in line.values.items()}


FastField = tuple[str, bool, float, float]  # JSON name, is boolean, min, max


def _payload_pattern(stream: StreamSpec) -> tuple[re.Pattern[str], list[FastField], str]:
    """The stream's payload in declared field order as one regex, with what each group is."""
    parts = []
    fields: list[FastField] = []
    for spec in stream.fields.values():
        boolean = spec.type == "boolean"
        parts.append(f"{re.escape(spec.name)}=({_BOOLEAN_RE if boolean else _NUMBER_RE})")
        lo = -math.inf if spec.min is None else float(spec.min)
        hi = math.inf if spec.max is None else float(spec.max)
        fields.append((_dumps(spec.name), boolean, lo, hi))
    return re.compile(";".join(parts)), fields, stream.topic


class RecordBuilder:
    """Builds reading and dead-letter records for one gateway of one pipeline."""

    def __init__(self, config: GatewayConfig, validate: Validator) -> None:
        self._streams = config.streams
        self._gateway = config.gateway
        self._pipeline = config.pipeline
        self._validate = validate
        self._gateway_json = _dumps(config.gateway)
        self._checked: set[tuple[str, str]] = set()
        self._names = {f: _dumps(f) for s in config.streams.values() for f in s.fields}
        self._payloads = {name: _payload_pattern(s) for name, s in config.streams.items()}

    def record(self, raw: bytes, received_at: int) -> tuple[str, bytes, bytes]:
        """``reading(parse(raw))``, by the shortest way that gives the same result."""
        fields = well_formed(raw)
        if fields is None:
            return self.reading(parse(raw), received_at)
        device_id, seq, uptime_ms, epoch_ms, stream_name, payload = fields
        fast = self._payloads.get(stream_name)
        m = fast[0].fullmatch(payload) if fast is not None else None
        if fast is None or m is None or (device_id, stream_name) not in self._checked:
            return self.reading(line_from(*fields), received_at)
        parts = []
        for (json_name, boolean, lo, hi), text in zip(fast[1], m.groups(), strict=True):
            if boolean:
                parts.append(f"{json_name}:{'true' if text in _TRUE else 'false'}")
                continue
            x = float(text)
            if not lo <= x <= hi or x - x != 0:  # out of range, or not finite
                return self.reading(line_from(*fields), received_at)
            parts.append(f"{json_name}:{text}")
        event_time = epoch_ms if epoch_ms is not None else received_at
        uptime = "" if uptime_ms is None else f',"device_uptime_ms":{uptime_ms}'
        value = (
            f'{{"v":1,"device_id":"{device_id}","stream":"{stream_name}","seq":{seq},'
            f'"event_time":{event_time},"received_at":{received_at},"gateway":{self._gateway_json},'
            f'"values":{{{",".join(parts)}}}{uptime}}}'
        )
        return fast[2], device_id.encode(), value.encode()

    def reading(self, line: Line, received_at: int) -> tuple[str, bytes, bytes]:
        """(topic, key, value) of the reading in ``line``; Rejected if it breaks a rule."""
        stream = self._streams.get(line.stream)
        if stream is None:
            raise Rejected("unknown_stream", f"no stream {line.stream[:40]!r}", line.device_id)
        if line.error is not None:
            raise Rejected("sensor_error", line.error[:80], line.device_id)
        values = typed_values(stream, line)
        event_time = line.epoch_ms if line.epoch_ms is not None else received_at
        shape = (line.device_id, line.stream)
        if shape not in self._checked:
            self._check(line, values, event_time, received_at)
            if len(self._checked) >= MAX_CHECKED_SHAPES:
                self._checked.clear()
            self._checked.add(shape)
        uptime = "" if line.uptime_ms is None else f',"device_uptime_ms":{line.uptime_ms}'
        names = self._names
        fields = ",".join(f"{names[k]}:{_json_scalar(v)}" for k, v in values.items())
        value = (
            f'{{"v":1,"device_id":"{line.device_id}","stream":"{line.stream}","seq":{line.seq},'
            f'"event_time":{event_time},"received_at":{received_at},"gateway":{self._gateway_json},'
            f'"values":{{{fields}}}{uptime}}}'
        )
        return stream.topic, line.device_id.encode(), value.encode()

    def _check(self, line: Line, values: dict[str, Any], event_time: int, received_at: int) -> None:
        """The full schema check of the record, as a dict (first record of a shape)."""
        record: dict[str, Any] = {
            "v": 1,
            "device_id": line.device_id,
            "stream": line.stream,
            "seq": line.seq,
            "event_time": event_time,
            "received_at": received_at,
            "gateway": self._gateway,
            "values": values,
        }
        if line.uptime_ms is not None:
            record["device_uptime_ms"] = line.uptime_ms
        try:
            self._validate(record)
        except SchemaError as exc:
            raise Rejected("schema_violation", str(exc)[:200], line.device_id) from None

    def dead_letter(
        self, raw: bytes, rejected: Rejected, source: str, received_at: int
    ) -> tuple[bytes | None, bytes]:
        """(key, value) of the dead-letter record for a rejected input."""
        record: dict[str, Any] = {
            "v": 1,
            "pipeline": self._pipeline,
            "gateway": self._gateway,
            "source": source,
            "received_at": received_at,
            "stage": "gateway",
            "reason": rejected.reason,
            "detail": rejected.detail,
            "raw": raw_text(raw.rstrip(b"\r\n")),
        }
        key = None
        if rejected.device_id is not None:
            record["device_id"] = rejected.device_id
            key = rejected.device_id.encode()
        return key, _dumps(record).encode()
