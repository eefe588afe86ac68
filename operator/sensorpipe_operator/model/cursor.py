"""Reading typed values out of the raw spec, and the field formats several parts share.

Every part of the model parses its block through a ``Cursor``, so each error names its field
path the way the API server does (``spec.streams[1].fields[0].min``) without each parser
building strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sensorpipe_operator.durations import DurationError, parse_duration
from sensorpipe_operator.model.errors import SpecError

NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
TOPIC_PATTERN = r"^[a-zA-Z0-9._-]+$"
CHILD_NAME_MAX = 24


class Cursor:
    """Reads typed values out of one mapping while remembering where it is, so that every
    error can name its field path without each caller building strings."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise SpecError(path, f"must be an object, not {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def obj(self, key: str) -> Cursor:
        return Cursor(self.data.get(key), self.at(key))

    def items(self, key: str, *, min_items: int = 0) -> list[Cursor]:
        raw = self.data.get(key) or []
        if not isinstance(raw, list):
            raise SpecError(self.at(key), "must be a list")
        if len(raw) < min_items:
            raise SpecError(self.at(key), f"must have at least {min_items} item(s)")
        return [Cursor(item, f"{self.at(key)}[{i}]") for i, item in enumerate(raw)]

    def string(
        self,
        key: str,
        default: str | None = None,
        *,
        pattern: str | None = None,
        choices: tuple[str, ...] | None = None,
        max_len: int | None = None,
    ) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise SpecError(self.at(key), "is required")
        if not isinstance(value, str):
            raise SpecError(self.at(key), "must be a string")
        if choices is not None and value not in choices:
            raise SpecError(self.at(key), f"must be one of {', '.join(choices)}, not {value!r}")
        if max_len is not None and len(value) > max_len:
            raise SpecError(self.at(key), f"must be at most {max_len} characters")
        if pattern is not None and value and not re.match(pattern, value):
            raise SpecError(self.at(key), f"{value!r} does not match {pattern}")
        return value

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int:
        value = self.data.get(key, default)
        if value is None:
            raise SpecError(self.at(key), "is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(self.at(key), "must be an integer")
        if not lo <= value <= hi:
            raise SpecError(self.at(key), f"must be between {lo} and {hi}, not {value}")
        return int(value)

    def number(self, key: str, default: float | None = None) -> float | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(self.at(key), "must be a number")
        return float(value) if isinstance(value, float) else int(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise SpecError(self.at(key), "must be true or false")
        return value

    def duration(self, key: str, default: str) -> float:
        value = self.string(key, default)
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise SpecError(self.at(key), str(exc)) from None

    def str_map(self, key: str) -> dict[str, str]:
        raw = self.data.get(key) or {}
        if not isinstance(raw, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise SpecError(self.at(key), "must map strings to strings")
        return dict(raw)

    def num_map(self, key: str) -> dict[str, float]:
        raw = self.data.get(key) or {}
        if not isinstance(raw, Mapping):
            raise SpecError(self.at(key), "must be an object")
        for k, v in raw.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SpecError(f"{self.at(key)}.{k}", "must be a number")
        return dict(raw)


def topic_name(cur: Cursor, key: str) -> str:
    """A topic name override; Kafka also refuses the names ``.`` and ``..``."""
    name = cur.string(key, "", pattern=TOPIC_PATTERN, max_len=249)
    if name in (".", ".."):
        raise SpecError(cur.at(key), "Kafka refuses the topic names . and ..")
    return name


def unique(cursors: list[Cursor], key: str) -> None:
    """Duplicate names would give two children the same name; refuse them like the CRD does."""
    seen: set[str] = set()
    for cur in cursors:
        name = str(cur.data.get(key))
        if name in seen:
            raise SpecError(cur.path, f"duplicate {key} {name!r}")
        seen.add(name)


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str = ""


def secret_ref(cur: Cursor, default_key: str = "") -> SecretRef:
    return SecretRef(
        name=cur.string("name", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
        key=cur.string("key", default_key) if default_key else "",
    )
