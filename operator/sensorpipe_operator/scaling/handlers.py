"""The autoscaler's wiring into kopf (public API only); imported by ``sensorpipe_operator.main``.

A loop over the pipelines the watch has shown (``loop.PipelineLoop``) ticks every ``TICK``
seconds, and the controller polls a pipeline only when its own ``scaling.pollInterval`` has
passed (its memory remembers when); ticks in between cost no API call. ``status.scaling`` is
written only when a poll found something a reader needs (``worth_writing``), so an idle
pipeline costs no writes. A deleted pipeline leaves the loop with its DELETED event.

Importing the module registers the handlers in kopf's default registry (what ``main`` runs);
``register`` also puts them into another registry, for a test's own operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import kopf

from sensorpipe_operator import loop
from sensorpipe_operator.handlers import process_kafka, process_kube
from sensorpipe_operator.kube import PIPELINES, Kube, KubeError
from sensorpipe_operator.scaling.controller import PipelineMemory, ScalingController
from sensorpipe_operator.scaling.status import worth_writing

TICK = 1.0
HTTP_NOT_FOUND = 404


class Scaling:
    """The autoscaler of one operator process: the controller (with the process's Kubernetes
    and Kafka clients), each pipeline's memory, and the last ``status.scaling`` written per
    pipeline."""

    def __init__(self, kube: Kube, controller: ScalingController) -> None:
        self.kube = kube
        self.controller = controller
        self.memories: dict[str, PipelineMemory] = {}
        self.written: dict[str, dict[str, Any]] = {}

    def forget(self, uid: str) -> None:
        self.memories.pop(uid, None)
        self.written.pop(uid, None)

    async def poll(self, body: Mapping[str, Any]) -> None:
        """Measure, decide, actuate, and write ``status.scaling`` when it changed."""
        if not ((body.get("spec") or {}).get("scaling") or {}).get("enabled"):
            return
        meta = body["metadata"]
        memory = self.memories.setdefault(meta["uid"], PipelineMemory())
        status = await asyncio.to_thread(self.controller.poll, body, memory)
        old = self.written.get(meta["uid"]) or (body.get("status") or {}).get("scaling")
        if status is None or not worth_writing(old, status):
            return
        try:
            await asyncio.to_thread(
                self.kube.merge_patch,
                PIPELINES,
                meta["namespace"],
                meta["name"],
                {"status": {"scaling": status}},
                "status",
            )
        except KubeError as exc:
            if exc.status != HTTP_NOT_FOUND:
                raise
            return
        self.written[meta["uid"]] = status


async def start_scaling(memo: kopf.Memo, **_: Any) -> None:
    """One autoscaler and its loop for the whole process. Peering (``memo.may_act``, set by
    the operator's own startup handler when it runs with peering) is asked on every round."""
    kube = process_kube(memo)
    scaling = Scaling(kube, ScalingController(kube, process_kafka(memo)))

    async def may_act() -> bool:
        gate = getattr(memo, "may_act", None)
        return True if gate is None else bool(await gate())

    memo.scaling = scaling
    memo.scaling_loop = loop.PipelineLoop("scaling", scaling.poll, TICK, TICK, may_act)


async def stop_scaling(memo: kopf.Memo, **_: Any) -> None:
    memo.scaling_loop.stop()


async def follow(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Keep the loop's view of the pipelines current; forget a deleted one at once."""
    memo.scaling_loop.observe(type, body)
    if type == "DELETED":
        memo.scaling.forget(body.get("metadata", {}).get("uid", ""))


def register(registry: kopf.OperatorRegistry) -> None:
    kopf.on.startup(id="scaling-start", registry=registry)(start_scaling)
    kopf.on.cleanup(id="scaling-stop", registry=registry)(stop_scaling)
    kopf.on.event(
        PIPELINES.group,
        PIPELINES.version,
        PIPELINES.plural,
        id="scaling-pipelines",
        registry=registry,
    )(follow)


register(kopf.get_default_registry())
