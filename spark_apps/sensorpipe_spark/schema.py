"""The reading contract, loaded from `schemas/reading.schema.json` rather than retyped.

Edge and Spark both check readings against that one file; keeping a second copy of its
rules in Python would let the two drift apart. This module turns the JSON Schema's
top-level keywords into plain rules (type, pattern, bounds, const, required, additional
properties) that :mod:`sensorpipe_spark.validate` compiles into Spark expressions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_ENV = "SENSORPIPE_READING_SCHEMA"
# In the repository and in the image alike the schemas/ folder sits beside spark_apps/.
_DEFAULT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "reading.schema.json"
VALUES_PROPERTY = "values"


@dataclass(frozen=True)
class PropertyRule:
    """What the schema says about one top-level property of a reading."""

    name: str
    type: str
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    const: Any = None


@dataclass(frozen=True)
class ReadingSchema:
    """The top-level rules of a reading; `values` is checked against the spec's fields."""

    properties: tuple[PropertyRule, ...]
    required: frozenset[str]
    additional_properties: bool

    def rule(self, name: str) -> PropertyRule:
        """The rule of the property called ``name``."""
        return next(p for p in self.properties if p.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every property the schema allows, in the file's order."""
        return tuple(p.name for p in self.properties)


def _type_of(name: str, spec: dict[str, Any]) -> str:
    if "const" in spec and "type" not in spec:
        value = spec["const"]
        if isinstance(value, bool):
            return "boolean"
        return "integer" if isinstance(value, int) else "string"
    kind = spec.get("type")
    if not isinstance(kind, str):
        raise ValueError(f"reading schema: property {name!r} needs a single type")
    return kind


def parse(doc: dict[str, Any]) -> ReadingSchema:
    """Turn a reading JSON Schema document into :class:`ReadingSchema`."""
    props = tuple(
        PropertyRule(
            name=name,
            type=_type_of(name, spec),
            pattern=spec.get("pattern"),
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            const=spec.get("const"),
        )
        for name, spec in doc["properties"].items()
    )
    return ReadingSchema(
        properties=props,
        required=frozenset(doc.get("required", [])),
        additional_properties=bool(doc.get("additionalProperties", True)),
    )


def schema_path() -> Path:
    """The schema file: ``$SENSORPIPE_READING_SCHEMA`` or the repository's own copy."""
    return Path(os.environ.get(SCHEMA_ENV) or _DEFAULT_PATH)


def load(path: str | os.PathLike[str] | None = None) -> ReadingSchema:
    """Load and parse the reading schema file."""
    return parse(json.loads(Path(path or schema_path()).read_text()))
