"""The known shapes of one gateway, and the compiled step that turns their lines into records.

A *shape* is a (device, stream) pair whose first record passed the general path of
``readings.RecordBuilder`` including the full schema check. Of a record's properties,
only ``device_id`` and the stream's field set can break the schema in ways the protocol
does not already rule out, so once a shape is known, a line of it needs only what can
differ from line to line: its CRC, a sequence number and time that are JSON integers
below 2**53, and a payload with exactly the stream's fields, in declared order, inside
the declared ranges. ``_fastpath.Step`` (C, ``_fastpath.c``) checks exactly that for a
whole batch in one call and assembles the records from the pieces of ``layout``; every
line it is not sure of comes back by position, for the general path to decide and name
the reason. So the step can only be slower than the general path, never different; the
unit tests hold the two to byte-identical records.
"""

from __future__ import annotations

import math

from sensorpipe_contract.fields import FieldSpec
from sensorpipe_edge import layout
from sensorpipe_edge._fastpath import Step
from sensorpipe_edge.config import StreamSpec
from sensorpipe_edge.protocol import MAX_LINE_BYTES

Record = tuple[str, bytes, bytes]

# Field names with these (or outside printable ASCII) cannot be told apart from the
# protocol's own separators by a byte comparison: such streams are left to Python.
_SEPARATORS = frozenset(",;=*$")


def _bound(limit: float | None, default: float) -> float | None:
    """A range bound as the double the step compares with, None if that double is not
    exactly the bound (Python compares numbers exactly: the step would differ)."""
    if limit is None:
        return default
    try:
        return float(limit) if float(limit) == limit else None
    except OverflowError:  # an integer beyond any double
        return None


def _field(spec: FieldSpec) -> tuple[bytes, bytes, bool, float, float] | None:
    """What the step needs of a field (see ``_fastpath.pyi``), None if it cannot take it."""
    if spec.is_integer:
        # The step knows numbers and booleans only; an integer field's "1.5" or "2.0" must be
        # refused (sensorpipe_contract.fields), so its streams are left to Python.
        return None
    lo, hi = _bound(spec.min, -math.inf), _bound(spec.max, math.inf)
    name = spec.name
    if lo is None or hi is None or not name.isascii() or not name.isprintable():
        return None
    if _SEPARATORS.intersection(name):
        return None
    member = layout.member(name).encode()
    return name.encode() + b"=", member, spec.type == "boolean", lo, hi


class Shortcut:
    """Shapes learnt, per stream; lines of them go through the compiled step."""

    def __init__(self, streams: dict[str, StreamSpec], limit: int) -> None:
        self._shapes: dict[str, dict[bytes, bytes]] = {name: {} for name in streams}
        self._limit = limit
        self._count = 0
        specs = []
        for name, spec in streams.items():
            fields = [_field(f) for f in spec.fields.values()]
            usable = tuple(f for f in fields if f is not None)
            if usable and len(usable) == len(fields):
                specs.append((name.encode(), spec.topic, self._shapes[name], usable))
        self._step = Step(
            tuple(specs), layout.EVENT_TIME.encode(), layout.UPTIME.encode(), MAX_LINE_BYTES
        )

    def learn(self, device_id: str, stream: str) -> None:
        """Remember a shape whose record passed the full check; past ``limit`` shapes the
        memory starts over (correct, only slower until they are learnt again)."""
        if self._count >= self._limit:
            for devices in self._shapes.values():
                devices.clear()
            self._count = 0
        devices, device = self._shapes[stream], device_id.encode()
        if device not in devices:
            devices[device] = layout.head(device_id, stream).encode()
            self._count += 1

    def known(self, device_id: str, stream: str) -> bool:
        return device_id.encode() in self._shapes[stream]

    def records(
        self, lines: list[bytes], received_at: int, gateway_json: str
    ) -> tuple[list[Record | None], list[int]]:
        """Per line its record, or None where the general path must decide; and the
        positions of those Nones."""
        middle = layout.middle(received_at, gateway_json).encode()
        return self._step.records(lines, b"%d" % received_at, middle)
