"""A runtime config document (docs/contracts.md §2) for the edge tests, unit and integration."""

from __future__ import annotations

import copy
from typing import Any

from tests import documents
from tests.streams import THREE_SENSOR_STREAMS


def pipeline_document(
    name: str = "farm", bootstrap: str = "127.0.0.1:9", source: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        **documents.head(name, bootstrap, "iot"),
        "topics": documents.topics(name, THREE_SENSOR_STREAMS),
        "streams": copy.deepcopy(THREE_SENSOR_STREAMS),
        "gateway": {
            "name": "bench",
            "source": source or {"type": "serial", "serial": {"device": "/dev/null"}},
        },
    }
