"""The kopf timer that runs the autoscaler; imported by ``sensorpipe_operator.main``.

kopf fixes a timer's interval when the handler is registered, but each pipeline names its own
``scaling.pollInterval``. So the timer ticks every ``TICK`` seconds on pipelines with scaling
enabled, and the controller polls a pipeline only when its interval has passed (the per-object
memo remembers when). Ticks in between cost no API call and write no status.

Importing the module registers the handlers in kopf's default registry (what ``main`` runs);
``register`` also puts them into another registry, for a test's own operator.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from kubernetes import client, config

from sensorpipe_operator.scaling.controller import PipelineMemory, ScalingController
from sensorpipe_operator.scaling.status import worth_writing

GROUP, VERSION, PLURAL = "iot.sensorpipe.dev", "v1alpha1", "sensorpipelines"
TICK = 1.0


def api_client() -> client.ApiClient:
    """In a pod, the mounted ServiceAccount; elsewhere $KUBECONFIG, read now rather than when
    the kubernetes package was imported (its default path is fixed at import time)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return client.ApiClient()


def _scaling_enabled(spec: kopf.Spec, **_: Any) -> bool:
    scaling = spec.get("scaling") or {}
    return bool(scaling.get("enabled"))


def start_scaling(memo: kopf.Memo, **_: Any) -> None:
    """One controller (API client, Admin clients) for the whole process, shared through the
    operator memo, of which every object's memo is a copy."""
    if getattr(memo, "scaling_controller", None) is None:
        memo.scaling_controller = ScalingController(api_client())


def scale_pipeline(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, **_: Any) -> None:
    """Measure, decide, actuate and write ``status.scaling`` when the pipeline is due."""
    if getattr(memo, "scaling_memory", None) is None:
        memo.scaling_memory = PipelineMemory()
    controller: ScalingController = memo.scaling_controller
    status = controller.poll(body, memo.scaling_memory)
    if status is not None and worth_writing((body.get("status") or {}).get("scaling"), status):
        patch.status["scaling"] = status


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.startup(id="scaling-start", registry=registry)(start_scaling)
    kopf.timer(
        GROUP,
        VERSION,
        PLURAL,
        id="scaling",
        interval=TICK,
        sharp=True,
        when=_scaling_enabled,
        registry=registry,
    )(scale_pipeline)


register(kopf.get_default_registry())
