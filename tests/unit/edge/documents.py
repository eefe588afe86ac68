"""A runtime config document (docs/contracts.md §2) for the edge tests, unit and integration."""

from __future__ import annotations

import copy
from typing import Any

from tests.streams import THREE_SENSOR_STREAMS


def pipeline_document(
    name: str = "farm", bootstrap: str = "127.0.0.1:9", source: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "version": 1,
        "pipeline": {"name": name, "namespace": "iot"},
        "kafka": {"bootstrapServers": bootstrap, "authentication": None},
        "topics": {
            "streams": {s: f"{name}.{s}" for s in ("climate", "distance", "motion")},
            "deadLetter": f"{name}.deadletter",
            "aggregates": f"{name}.aggregates",
            "alerts": f"{name}.alerts",
        },
        "streams": copy.deepcopy(THREE_SENSOR_STREAMS),
        "gateway": {
            "name": "bench",
            "source": source or {"type": "serial", "serial": {"device": "/dev/null"}},
        },
    }
