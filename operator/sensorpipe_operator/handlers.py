"""kopf handlers: the wiring between kopf's watches and the engine, through kopf's public
API only.

Registered by ``register`` (not at import) so that settings such as the resync interval
come from the command line. Pipelines are watched with a silent event handler rather than
create/update handlers: nothing is stored on the object per change, so a converged pipeline
costs no writes; a deletion handler (and so kopf's finalizer) exists only for pipelines whose
topics must be deleted through Kafka's Admin API. The periodic resync is one loop over the
pipelines the watch has shown (``loop``), not a kopf timer, which would put a finalizer on
every pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from sensorpipe_contract.identity import FINALIZER, GROUP, MANAGED
from sensorpipe_operator import loop
from sensorpipe_operator.engine import Engine
from sensorpipe_operator.kafka_clients import KafkaClients
from sensorpipe_operator.kube import CHILD_KINDS, PIPELINES, VERSIONLESS, Kube, KubeError
from sensorpipe_operator.metrics import count_write
from sensorpipe_operator.settings import Settings


def _deletes_admin_topics(spec: kopf.Spec, **_: Any) -> bool:
    """Only pipelines whose topics must be deleted in Kafka itself get a finalizer; everything
    else is removed by owner references, so a stopped operator never blocks a deletion."""
    kafka = spec.get("kafka") or {}
    return kafka.get("topicBackend") == "admin" and bool(kafka.get("deleteTopicsWithPipeline"))


async def resync(engine: Engine, body: Mapping[str, Any]) -> None:
    """Reconcile one pipeline as a resync tick, writing its status if it changed (the one
    status writer, ``status_writer.StatusWriter``, fills the patch)."""
    patch: dict[str, Any] = {}
    await engine.reconcile(body, patch, trigger="timer")
    if not patch:
        return
    meta = body["metadata"]
    try:
        await asyncio.to_thread(
            engine.kube.merge_patch,
            PIPELINES,
            meta["namespace"],
            meta["name"],
            {"status": patch},
            "status",
        )
    except KubeError as exc:
        if exc.status != 404:  # deleted meanwhile: nothing to report on
            raise


def process_kube(memo: kopf.Memo) -> Kube:
    """The one Kubernetes client of this operator process, made by whichever startup handler
    runs first (the engine's or the autoscaler's), so every write is counted in one place."""
    if getattr(memo, "kube", None) is None:
        memo.kube = Kube.from_environment(on_write=count_write)
    kube: Kube = memo.kube
    return kube


def process_kafka(memo: kopf.Memo) -> KafkaClients:
    """The Kafka clients of this operator process, shared like ``process_kube``: the admin topic
    backend and the autoscaler's lag readers use one client per broker and credentials."""
    if getattr(memo, "kafka", None) is None:
        memo.kafka = KafkaClients(process_kube(memo))
    kafka: KafkaClients = memo.kafka
    return kafka


def register(
    config: Settings, registry: kopf.OperatorRegistry | None = None, priority: int = 0
) -> None:
    """``priority`` is this replica's peering priority (with ``config.peering``)."""
    registry = registry or kopf.get_default_registry()
    group, version, plural = PIPELINES.group, PIPELINES.version, PIPELINES.plural

    @kopf.on.startup(id="sensorpipe-start", registry=registry)
    async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
        # Only explicit events (engine._event) and warnings become Kubernetes Events: kopf
        # would otherwise post "handler succeeded" for every resync tick, a write each time.
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.networking.request_timeout = 60
        # With a peering name, never fall back to acting alone when the peering object is
        # missing: two replicas must never both act.
        settings.peering.mandatory = bool(config.peering)
        engine = Engine(
            process_kube(memo),
            process_kafka(memo),
            config.images,
            config.allowed_devices,
            config.allowed_device_resources,
        )
        memo.engine = engine
        memo.may_act = (
            loop.PeeringGate(engine.kube.api, config.peering, config.watch_namespaces, priority)
            if config.peering
            else None
        )

        async def work(body: Mapping[str, Any]) -> None:
            await resync(engine, body)

        memo.resync = loop.PipelineLoop("resync", work, config.resync_seconds, may_act=memo.may_act)

    @kopf.on.cleanup(id="sensorpipe-stop", registry=registry)
    async def stop(memo: kopf.Memo, **_: Any) -> None:
        memo.resync.stop()

    @kopf.on.event(group, version, plural, id="pipeline", registry=registry)
    async def pipeline_event(
        type: str | None, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
    ) -> None:
        engine: Engine = memo.engine
        engine.observe_pipeline(type, body)
        memo.resync.observe(type, body)  # and starts it, where kopf.event works
        if type == "DELETED":
            return
        engine.status_seen(body)
        await engine.reconcile(body, patch.status, trigger="watch")

    @kopf.on.delete(
        group, version, plural, id="delete-topics", when=_deletes_admin_topics, registry=registry
    )
    async def delete_topics(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await memo.engine.delete_topics(body)

    for kind in CHILD_KINDS:
        # KafkaTopic in the version the cluster prefers (kopf's choice when none is named),
        # which is the newest served and so the one ``strimzi.choose`` writes.
        @kopf.on.event(
            group=kind.group,
            version=None if kind.kind in VERSIONLESS else kind.version,
            plural=kind.plural,
            labels=MANAGED,
            registry=registry,
            id=f"child-{kind.kind}",
        )
        async def child_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
            await memo.engine.repair_child(type, body)
