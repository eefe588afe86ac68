"""The parts of a hand-written runtime config document that every test pipeline shares, named
by the contract (``sensorpipe_contract.naming``) as the operator names them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sensorpipe_contract import naming, runtime


def head(name: str, bootstrap: str, namespace: str = "test") -> dict[str, Any]:
    """``version``, ``pipeline`` and ``kafka`` of a pipeline without authentication."""
    return {
        "version": runtime.VERSION,
        "pipeline": {"name": name, "namespace": namespace},
        "kafka": {"bootstrapServers": bootstrap, "authentication": None},
    }


def topics(name: str, streams: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The ``topics`` block: each stream's topic and the pipeline's three others."""
    return {
        "streams": {s["name"]: naming.stream_topic(name, s["name"]) for s in streams},
        "deadLetter": naming.dead_letter_topic(name),
        "aggregates": naming.aggregates_topic(name),
        "alerts": naming.alerts_topic(name),
    }
