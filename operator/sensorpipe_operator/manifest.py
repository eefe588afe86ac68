"""Reading a SensorPipeline manifest file into the operator's model.

``sensorpipe validate`` and ``render`` and the local runner (``sensorpipe-local``) have no
API server to apply the CRD's checks, so the file goes through the same ``model.parse`` the
operator uses; every error names the field path (``spec.streams[0]...``) so a user can fix
the file without guessing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sensorpipe_contract.identity import API_VERSION, KIND
from sensorpipe_operator import crdcheck
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import Pipeline, parse

DEFAULT_NAMESPACE = "default"


def read_document(path: Path) -> dict[str, Any]:
    """The one SensorPipeline document of ``path``; a file with several documents must hold
    exactly one SensorPipeline, the way ``kubectl apply -f`` users write them."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as exc:
        raise SpecError("(file)", f"not valid YAML: {exc}") from None
    except OSError as exc:
        raise SpecError("(file)", f"cannot read {path}: {exc.strerror}") from None
    pipelines = [d for d in docs if isinstance(d, dict) and d.get("kind") == KIND]
    if len(pipelines) != 1:
        raise SpecError("kind", f"{path} must hold exactly one {KIND}, found {len(pipelines)}")
    doc = pipelines[0]
    if doc.get("apiVersion") != API_VERSION:
        raise SpecError("apiVersion", f"must be {API_VERSION}, not {doc.get('apiVersion')!r}")
    return doc


def load(path: Path) -> Pipeline:
    """The parsed, defaulted model of the manifest at ``path``; raises SpecError."""
    return model_of(read_document(path))


def admit(doc: dict[str, Any], schema: crdcheck.Schema) -> Pipeline:
    """What the cluster would do with ``doc``: refuse it as the API server would (the CRD's
    schema and CEL rules) or as the operator would (its model, an ``InvalidSpec`` condition);
    raises SpecError naming the first refused field, with every problem in the message."""
    _, problems = crdcheck.check(doc, schema)
    if problems:
        first, *rest = problems
        raise SpecError(first.path, "; ".join([first.message, *(str(p) for p in rest)]))
    return model_of(doc)


def model_of(doc: dict[str, Any]) -> Pipeline:
    """The operator's model of one SensorPipeline document; raises SpecError."""
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise SpecError("metadata.name", "is required")
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(namespace, str):
        raise SpecError("metadata.namespace", "must be a string")
    return parse(doc.get("spec"), meta["name"], namespace)
