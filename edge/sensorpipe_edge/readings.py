"""From a verified protocol line to the Kafka record of the contract, or a rejection.

Pure: configuration in, (topic, key, value) out, so the same code serves the gateway's
hot loop, the benchmark and the unit tests. Checks follow docs/contracts.md §3: the
stream must be declared, its fields present, typed and inside the declared range, and the
finished record must satisfy schemas/reading.schema.json.

``reading`` is the general path: it names the reason of every rejection and runs the full
schema check once per (device, stream); the JSON is written by hand from the checked parts
(the pieces of ``layout``), several times cheaper than ``json.dumps``. ``records``, the
gateway's batch call, first hands the batch to ``shortcut.Shortcut``, a compiled step that
writes the same record for a line of a (device, stream) accepted before, for a fraction
of the work, and gives back by position whatever it is not sure of, for ``reading``.
"""

from __future__ import annotations

import re
from typing import Any, cast

from sensorpipe_contract.fields import FieldSpec, check
from sensorpipe_edge import layout
from sensorpipe_edge.config import GatewayConfig, StreamSpec
from sensorpipe_edge.payload import Extracted
from sensorpipe_edge.protocol import Line, Rejected, parse, raw_text
from sensorpipe_edge.schema import SchemaError, Validator
from sensorpipe_edge.shortcut import Record, Shortcut

_NUMBER_RE = r"-?(?:0|[1-9]\d{0,15})(?:\.\d{1,9})?(?:[eE][-+]?\d{1,3})?"
_NUMBER = re.compile(_NUMBER_RE)
_TRUE = frozenset({"1", "true"})
_FALSE = frozenset({"0", "false"})
MAX_KNOWN_SHAPES = 200_000  # (device, stream) pairs the shortcut remembers


def _json_scalar(v: float | int | bool) -> str:
    """A checked value as JSON: repr of a finite float or an int is valid JSON."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return repr(v)


def convert(spec: FieldSpec, text: str, device_id: str) -> float | int | bool:
    """One field's text as the JSON value it stands for, if the contract's rules for the field
    (``sensorpipe_contract.fields``, which Spark applies too) accept that value."""
    value: object = text  # text that is neither a boolean nor a number is refused as it is
    if spec.is_boolean:
        value = True if text in _TRUE else False if text in _FALSE else text
    elif _NUMBER.fullmatch(text):
        value = int(text) if text.lstrip("-").isdigit() else float(text)
    return checked(spec, value, device_id)


def checked(spec: FieldSpec, value: object, device_id: str) -> float | int | bool:
    """``value`` if the field's rules accept it, else Rejected with the rule's reason."""
    violation = check(spec, value)
    if violation is not None:
        raise Rejected(violation.reason, violation.detail, device_id)
    return cast(float | int | bool, value)  # the rules accept nothing else


def json_value(spec: FieldSpec, value: Any, device_id: str) -> float | int | bool:
    """A field's value as a foreign JSON payload gave it: JSON numbers and booleans as they
    are (0 and 1 stand for booleans too, as on the serial line), and text exactly as the line
    protocol's text is read."""
    if isinstance(value, str):
        return convert(spec, value, device_id)
    if spec.is_boolean and type(value) is int and value in (0, 1):
        value = bool(value)
    return checked(spec, value, device_id)


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


class RecordBuilder:
    """Builds reading and dead-letter records for one gateway of one pipeline."""

    def __init__(self, config: GatewayConfig, validate: Validator) -> None:
        self._streams = config.streams
        self._gateway = config.gateway
        self._pipeline = config.pipeline
        self._validate = validate
        self._gateway_json = layout.dumps(config.gateway)
        self._members = {f: layout.member(f) for s in config.streams.values() for f in s.fields}
        self._shortcut = Shortcut(config.streams, MAX_KNOWN_SHAPES)

    def records(
        self, lines: list[bytes], received_at: int
    ) -> tuple[list[Record], list[tuple[int, Rejected]]]:
        """The records of a batch of lines, in order, and the rejected lines by position.

        One call per batch: the compiled step does the lines of known shapes, ``reading``
        the rest in their places, so a device's records keep their order."""
        records, deferred = self._shortcut.records(lines, received_at, self._gateway_json)
        rejected: list[tuple[int, Rejected]] = []
        for i in deferred:
            try:
                records[i] = self.reading(parse(lines[i]), received_at)
            except Rejected as rej:
                rejected.append((i, rej))
        return list(filter(None, records)), rejected  # without the rejected lines' Nones

    def reading(self, line: Line, received_at: int) -> Record:
        """(topic, key, value) of the reading in ``line``; Rejected if it breaks a rule."""
        stream = self._stream(line.stream, line.device_id)
        if line.error is not None:
            raise Rejected("sensor_error", line.error[:80], line.device_id)
        return self._record(line, typed_values(stream, line), received_at)

    def mapped(self, found: Extracted, seq: int, received_at: int) -> Record:
        """(topic, key, value) of a foreign payload's reading (``payload.extract``), with
        ``seq`` when the payload had none; Rejected if it breaks a rule."""
        stream = self._stream(found.stream, found.device_id)
        for name in found.values.keys() - stream.fields.keys():
            raise Rejected("unknown_field", f"{stream.name} has no field {name!r}", found.device_id)
        values = {
            name: json_value(stream.fields[name], value, found.device_id)
            for name, value in found.values.items()
        }
        line = Line(found.device_id, seq, None, found.epoch_ms, found.stream, {}, None)
        return self._record(line, values, received_at)

    def _stream(self, name: str, device_id: str) -> StreamSpec:
        stream = self._streams.get(name)
        if stream is None:
            raise Rejected("unknown_stream", f"no stream {name[:40]!r}", device_id)
        return stream

    def _record(
        self, line: Line, values: dict[str, float | int | bool], received_at: int
    ) -> Record:
        """The record of a checked reading: the full schema check for a new shape."""
        stream = self._streams[line.stream]
        event_time = line.epoch_ms if line.epoch_ms is not None else received_at
        if not self._shortcut.known(line.device_id, line.stream):
            self._check(line, values, event_time, received_at)
            self._shortcut.learn(line.device_id, line.stream)
        uptime = "" if line.uptime_ms is None else f"{layout.UPTIME}{line.uptime_ms}"
        members = self._members
        fields = ",".join(f"{members[k]}{_json_scalar(v)}" for k, v in values.items())
        value = (
            f"{layout.head(line.device_id, line.stream)}{line.seq}"
            f"{layout.EVENT_TIME}{event_time}{layout.middle(received_at, self._gateway_json)}"
            f"{fields}}}{uptime}}}"
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
        return key, layout.dumps(record).encode()
