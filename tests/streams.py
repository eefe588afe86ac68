"""The three-sensor streams of the seeds' Arduino line (DHT11, SR04, PIR) and the seeds' alert
rule, as the spec writes them: one definition for every test that needs a realistic pipeline."""

from __future__ import annotations

from typing import Any

THREE_SENSOR_STREAMS: list[dict[str, Any]] = [
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
]

# The seeds' "temperature above 70" alert, the threshold rule every realistic pipeline carries.
HOT_THRESHOLD: dict[str, Any] = {
    "name": "hot",
    "stream": "climate",
    "field": "temperature",
    "above": 70,
    "severity": "critical",
}
