"""The streams a pipeline carries and the typed fields of their readings."""

from __future__ import annotations

from dataclasses import dataclass

from sensorpipe_contract.fields import FIELD_TYPES
from sensorpipe_operator.model.cursor import (
    CHILD_NAME_MAX,
    NAME_PATTERN,
    Cursor,
    topic_name,
    unique,
)
from sensorpipe_operator.model.errors import SpecError

FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "number"
    unit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Stream:
    name: str
    fields: tuple[Field, ...]
    topic: str = ""
    partitions: int = 0


def _fields(scur: Cursor) -> tuple[Field, ...]:
    fcurs = scur.items("fields", min_items=1)
    unique(fcurs, "name")
    fields = []
    for fcur in fcurs:
        ftype = fcur.string("type", "number", choices=FIELD_TYPES)
        lo, hi = fcur.number("min"), fcur.number("max")
        if ftype == "boolean" and (lo is not None or hi is not None):
            raise SpecError(fcur.at("min" if lo is not None else "max"), "is only for numbers")
        if lo is not None and hi is not None and lo > hi:
            raise SpecError(fcur.at("min"), f"{lo} is above max {hi}")
        fields.append(
            Field(
                name=fcur.string("name", pattern=FIELD_NAME_PATTERN, max_len=63),
                type=ftype,
                unit=fcur.string("unit", "", max_len=16),
                min=lo,
                max=hi,
            )
        )
    return tuple(fields)


def parse_streams(root: Cursor) -> tuple[Stream, ...]:
    scurs = root.items("streams", min_items=1)
    unique(scurs, "name")
    return tuple(
        Stream(
            name=scur.string("name", pattern=NAME_PATTERN, max_len=CHILD_NAME_MAX),
            topic=topic_name(scur, "topic"),
            partitions=scur.integer("partitions", 0, 0, 1000),
            fields=_fields(scur),
        )
        for scur in scurs
    )
