"""ConfigMaps holding the runtime config document: one per gateway (with its ``gateway``
block) and one shared by the Spark job and the consumers (without)."""

from __future__ import annotations

from typing import Any

from sensorpipe_contract import identity
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders.common import config_map_name, gateway_name, metadata
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.workloads import Gateway


def text(pipeline: Pipeline, gateway: Gateway | None = None) -> str:
    """The exact ``pipeline.json`` a child reads."""
    return rc.to_json(rc.render(pipeline, gateway))


def _config_map(
    pipeline: Pipeline, name: str, component: str, part: str, body: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(pipeline, name, component, part),
        "data": {identity.CONFIG_KEY: body},
    }


def build(pipeline: Pipeline) -> list[dict[str, Any]]:
    maps = [_config_map(pipeline, config_map_name(pipeline), "config", "", text(pipeline))]
    maps += [
        _config_map(
            pipeline, gateway_name(pipeline, gw.name), "gateway", gw.name, text(pipeline, gw)
        )
        for gw in pipeline.gateways
    ]
    return maps
