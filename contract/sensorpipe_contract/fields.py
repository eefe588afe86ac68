"""The typing and range rules of a stream's fields, which the gateway and Spark both apply.

A reading's ``values`` hold JSON scalars; a field's declared type says which it may be:

- ``boolean``: JSON ``true``/``false`` only;
- ``integer``: a JSON integer (no fraction, no exponent: ``1.5`` and ``2.0`` are not), of
  magnitude below :data:`MAX_INTEGER`, inside the declared range;
- ``number``: any JSON number that is finite as a double (else ``sensor_error``), inside the
  declared range.

The gateway checks its converted values with :func:`check`; Spark parses ``values`` into
:data:`SPARK_TYPES` (a JSON number with a fraction does not parse into ``long``) and adds the
same magnitude and range bounds as column expressions, so what one accepts the other does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

FIELD_TYPES = ("number", "integer", "boolean")  # the first is the default
# The line protocol's numbers have at most 16 integer digits; an integer field's values stay
# below this, which a double also holds exactly.
MAX_INTEGER = 10**16
# The Spark SQL type ``values.<field>`` is parsed into, per field type.
SPARK_TYPES = {"number": "double", "integer": "bigint", "boolean": "boolean"}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One measured field of a stream, with its valid range when numeric."""

    name: str
    type: str  # one of FIELD_TYPES
    unit: str = ""
    min: float | None = None
    max: float | None = None

    @property
    def is_boolean(self) -> bool:
        """Booleans are stored as 0/1 and are never range-checked, jump- or stuck-tested."""
        return self.type == "boolean"

    @property
    def is_integer(self) -> bool:
        return self.type == "integer"


class Violation(NamedTuple):
    """Why a value is refused: a dead-letter reason code and its detail."""

    reason: str  # wrong_type | sensor_error | out_of_range
    detail: str


def check(spec: FieldSpec, value: object) -> Violation | None:
    """None when ``value`` (a JSON scalar as parsed) is valid for the field, else why not."""
    shown = str(value)[:40]
    if spec.is_boolean:
        return None if isinstance(value, bool) else _wrong(spec, shown, "is not a boolean")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _wrong(spec, shown, "is not a number")
    if spec.is_integer and not isinstance(value, int):
        return _wrong(spec, shown, "is not an integer")
    if spec.is_integer and abs(value) >= MAX_INTEGER:
        return _wrong(spec, shown, "is too large")
    if not _finite(value):  # what a sensor's NaN or overflow becomes
        return Violation("sensor_error", f"{spec.name}={shown} is not finite")
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        return Violation("out_of_range", f"{spec.name}={value} outside [{spec.min}, {spec.max}]")
    return None


def _finite(value: float) -> bool:
    """Whether Spark's double holds ``value`` as a finite number (a huge integer it does not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _wrong(spec: FieldSpec, shown: str, what: str) -> Violation:
    return Violation("wrong_type", f"{spec.name}={shown} {what}")
