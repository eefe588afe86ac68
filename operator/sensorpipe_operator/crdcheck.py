"""The API server's checks of a custom resource, offline: structural schema and CEL rules.

``sensorpipe validate`` must refuse exactly what ``kubectl apply`` refuses, or a user learns of
a mistake only when the cluster says no (or, worse, validate refuses what the cluster runs).
So it does not repeat the CRD's rules in Python: it reads the CRD file the chart installs and
applies it the way the API server does, in the same order:

1. drop nulls (fields that are not ``nullable``) and refuse fields the schema does not declare
   (``kubectl apply`` asks for strict field validation),
2. apply ``default``s, recursing into defaulted values,
3. check types, enums, patterns, lengths, ranges, item counts, required fields and map-list
   keys, and evaluate every ``x-kubernetes-validations`` rule with a CEL interpreter
   (cel-python), ``self`` typed by the schema as the server types it (``number`` is a double).

Each problem is reported as the server words it, ``spec.kafka.bogus: field not declared in
schema``, so the two name the same field.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import yaml
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError

Schema = Mapping[str, Any]
# The repository's CRD: where an editable install (the developers', the tests') finds it.
REPO_CRD = Path(__file__).resolve().parents[2] / "crds" / "sensorpipeline.yaml"


@dataclass(frozen=True)
class Problem:
    """One refusal: the field as the API server names it and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def load_schema(path: Path) -> Schema:
    """The openAPIV3Schema of the (single, storage) version of the CRD at ``path``."""
    crd = yaml.safe_load(path.read_text())
    versions = [v for v in crd["spec"]["versions"] if v.get("storage")]
    schema: Schema = versions[0]["schema"]["openAPIV3Schema"]
    return schema


def check(obj: Mapping[str, Any], schema: Schema) -> tuple[dict[str, Any], list[Problem]]:
    """The defaulted object and every problem the API server would refuse it for."""
    problems: list[Problem] = []
    value = _prune(dict(obj), schema, "", problems, root=True)
    value = _default(value, schema)
    _validate(value, schema, "", problems, root=True)
    return value, problems


# ------------------------------------------------------------------ pruning and defaulting


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _keeps_unknown(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def _prune(value: Any, schema: Schema, path: str, problems: list[Problem], root: bool) -> Any:
    """Drop nulls and report undeclared fields (strict field validation)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, sub in value.items():
            if sub is None and not (props.get(key) or {}).get("nullable"):
                continue
            if root and key == "metadata":
                out[key] = sub
            elif key in props:
                out[key] = _prune(sub, props[key], _join(path, key), problems, False)
            elif isinstance(extra, Mapping):
                out[key] = _prune(sub, extra, _join(path, key), problems, False)
            elif extra is True or _keeps_unknown(schema) or schema.get("type") != "object":
                out[key] = sub
            else:
                problems.append(Problem(_join(path, key), "field not declared in schema"))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [
            _prune(item, schema["items"], f"{path}[{i}]", problems, False)
            for i, item in enumerate(value)
        ]
    return value


def _default(value: Any, schema: Schema) -> Any:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _default(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key in [k for k in value if k not in props]:
                value[key] = _default(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_default(item, schema["items"]) for item in value]
    return value


# ----------------------------------------------------------------------------- validation


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _type_ok(value: Any, schema: Schema) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, int | str) and not isinstance(value, bool)
    expected = schema.get("type")
    checks: dict[str, Any] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    }
    return expected is None or checks[expected](value)


def _scalar(value: Any, schema: Schema, path: str, problems: list[Problem]) -> None:
    def bad(message: str) -> None:
        problems.append(Problem(path, message))

    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_quote(v) for v in schema["enum"])
        bad(f"Unsupported value: {_quote(value)}: supported values: {supported}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            bad(f"Too long: may not be more than {schema['maxLength']} bytes")
        if "minLength" in schema and len(value) < schema["minLength"]:
            least = schema["minLength"]
            bad(f"Invalid value: {_quote(value)}: should be at least {least} chars long")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            bad(f"Invalid value: {_quote(value)}: should match '{schema['pattern']}'")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            bad(f"Invalid value: {value}: should be greater than or equal to {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            bad(f"Invalid value: {value}: should be less than or equal to {schema['maximum']}")


def _validate(value: Any, schema: Schema, path: str, problems: list[Problem], root: bool) -> None:
    if "anyOf" in schema and not any(_type_ok(value, s) for s in schema["anyOf"]):
        problems.append(Problem(path, f"Invalid value: {_quote(value)}: must be one of anyOf"))
        return
    if not _type_ok(value, schema):
        problems.append(
            Problem(path, f'Invalid value: "{type(value).__name__}": must be {schema["type"]}')
        )
        return
    if isinstance(value, dict):
        _object(value, schema, path, problems, root)
    elif isinstance(value, list):
        _array(value, schema, path, problems)
    else:
        _scalar(value, schema, path, problems)
    for rule in schema.get("x-kubernetes-validations") or []:
        problem = _rule(rule, value, schema, path)
        if problem is not None:
            problems.append(problem)


def _object(
    value: dict[str, Any], schema: Schema, path: str, problems: list[Problem], root: bool
) -> None:
    for key in schema.get("required") or []:
        if key not in value:
            problems.append(Problem(_join(path, key), "Required value"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        problems.append(
            Problem(
                path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"
            )
        )
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, sub in value.items():
        if root and key == "metadata":
            continue
        sub_schema = props.get(key, extra if isinstance(extra, Mapping) else None)
        if sub_schema is not None:
            _validate(sub, sub_schema, _join(path, key), problems, False)


def _array(value: list[Any], schema: Schema, path: str, problems: list[Problem]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        problems.append(
            Problem(path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items")
        )
    if "minItems" in schema and len(value) < schema["minItems"]:
        problems.append(
            Problem(
                path,
                f"Invalid value: {len(value)}: should have at least {schema['minItems']} items",
            )
        )
    if schema.get("x-kubernetes-list-type") == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: set[tuple[str, ...]] = set()
        for item in value:
            if not isinstance(item, dict):
                continue
            ident = tuple(_quote(item.get(k)) for k in keys)
            if ident in seen:
                named = ",".join(f"{k}={v}" for k, v in zip(keys, ident, strict=True))
                problems.append(Problem(path, f"duplicate entries for key [{named}]"))
            seen.add(ident)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", problems, False)


# ------------------------------------------------------------------------------------ CEL


@functools.cache
def _program(expression: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(expression))


def _cel(value: Any, schema: Schema) -> Any:
    """``value`` as the API server hands it to CEL: typed by its schema, not by its JSON."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return celtypes.MapType(
            {
                celtypes.StringType(k): _cel(
                    v, props.get(k, extra if isinstance(extra, Mapping) else {})
                )
                for k, v in value.items()
            }
        )
    if isinstance(value, list):
        return celtypes.ListType([_cel(v, schema.get("items") or {}) for v in value])
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if schema.get("type") == "number" and isinstance(value, int | float):
        return celtypes.DoubleType(value)
    return json_to_cel(value)


def _rule(rule: Mapping[str, Any], value: Any, schema: Schema, path: str) -> Problem | None:
    """The refusal of one ``x-kubernetes-validations`` rule, if it does not hold; an evaluation
    error refuses too, as on the server."""
    where = (path + rule.get("fieldPath", "")).lstrip(".") or "<nil>"
    result: Any
    try:
        result = _program(rule["rule"]).evaluate({"self": _cel(value, schema)})
    except CELEvalError as exc:
        result = exc
    if isinstance(result, CELEvalError):
        return Problem(where, f"Invalid value: {_kind(value)}: evaluation error: {result}")
    if result:
        return None
    message = rule.get("message") or f"failed rule: {rule['rule']}"
    return Problem(where, f"Invalid value: {_kind(value)}: {message}")


def _kind(value: Any) -> str:
    return '"object"' if isinstance(value, dict) else _quote(value)
