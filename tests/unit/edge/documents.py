"""A runtime config document (docs/contracts.md §2) for the edge tests, unit and integration."""

from __future__ import annotations

from typing import Any


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
        },
        "streams": [
            {
                "name": "climate",
                "fields": [
                    {"name": "temperature", "type": "number", "unit": "Cel", "min": -40, "max": 80},
                    {"name": "humidity", "type": "number", "unit": "%", "min": 0, "max": 100},
                ],
            },
            {
                "name": "distance",
                "fields": [{"name": "distance", "type": "number", "min": 2, "max": 400}],
            },
            {"name": "motion", "fields": [{"name": "motion", "type": "boolean"}]},
        ],
        "gateway": {
            "name": "bench",
            "source": source or {"type": "serial", "serial": {"device": "/dev/null"}},
        },
    }
