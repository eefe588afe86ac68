"""One table of field values with the verdict of the contract's rules
(``sensorpipe_contract.fields``), which the gateway (its Python and its compiled path, the line
protocol and foreign JSON) and Spark must all give: shared by the unit and the Spark tests."""

from __future__ import annotations

import json
from typing import Any

from sensorpipe_contract.fields import FieldSpec, check
from tests import documents

STREAMS: list[dict[str, Any]] = [
    {"name": "level", "fields": [{"name": "level", "type": "number", "min": -40, "max": 80}]},
    {"name": "count", "fields": [{"name": "count", "type": "integer", "min": 0, "max": 1000}]},
    {"name": "open", "fields": [{"name": "open", "type": "boolean"}]},
]
# Per stream (of one field each), JSON values that a device may send. Not here: what the line
# protocol cannot write as JSON writes it (NaN, infinities, integers of over 16 digits in a
# number field), and the foreign payloads' 0/1 for booleans, which the gateway reads as
# false/true before any rule applies.
VALUES: dict[str, list[Any]] = {
    "level": [21.5, -40, 80, 2, 80.5, -41, 1e20, -1e-300, True, False],
    "count": [5, 0, 1000, -0, 1.5, 2.0, 1e3, -1, 1001, 10**16 - 1, 10**16, -(10**16), True],
    "open": [True, False, 1.5, 5, 2.0],
}
CASES = [(stream, value) for stream, values in VALUES.items() for value in values]
IDS = [f"{stream}={json.dumps(value)}" for stream, value in CASES]


def spec(stream: str) -> FieldSpec:
    """The stream's one field, as the contract's reader gives it."""
    (field,) = next(s for s in STREAMS if s["name"] == stream)["fields"]
    return FieldSpec(field["name"], field["type"], min=field.get("min"), max=field.get("max"))


def verdict(stream: str, value: Any) -> str | None:
    """The contract's dead-letter reason for the value, None when it is valid."""
    violation = check(spec(stream), value)
    return None if violation is None else violation.reason


def document(name: str, bootstrap: str = "127.0.0.1:9") -> dict[str, Any]:
    """A gateway's runtime config document for these streams."""
    return {
        **documents.head(name, bootstrap),
        "topics": documents.topics(name, STREAMS),
        "streams": STREAMS,
        "gateway": {"name": "g1", "source": {"type": "serial", "serial": {"device": "/dev/x"}}},
    }
