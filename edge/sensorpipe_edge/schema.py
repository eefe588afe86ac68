"""The reading contract (schemas/reading.schema.json), compiled once into a fast check.

Loaded from the file rather than retyped, so edge and Spark validate the same contract.
fastjsonschema turns the schema into Python code, which is several times quicker per
record than an interpreting validator: it runs on every reading the gateway produces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema

SCHEMA_ENV = "SENSORPIPE_READING_SCHEMA"
# In the repository and in the images alike the schemas/ folder sits beside edge/.
_DEFAULT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "reading.schema.json"

Validator = Callable[[dict[str, Any]], Any]
SchemaError = fastjsonschema.JsonSchemaException


def schema_path() -> Path:
    """The schema file: ``$SENSORPIPE_READING_SCHEMA`` or the repository's own copy."""
    return Path(os.environ.get(SCHEMA_ENV) or _DEFAULT_PATH)


def compile_validator(path: Path | None = None) -> Validator:
    """A function that raises SchemaError for a reading that breaks the contract."""
    schema = json.loads((path or schema_path()).read_text())
    validate: Validator = fastjsonschema.compile(schema)
    return validate
