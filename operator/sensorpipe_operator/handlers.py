"""kopf handlers: the wiring between kopf's watches and the engine.

Registered by ``register`` (not at import) so that settings such as the resync interval
come from the command line. Pipelines are watched with a silent event handler rather than
create/update handlers: nothing is stored on the object per change, so a converged pipeline
costs no writes; a deletion handler (and so kopf's finalizer) exists only for pipelines whose
topics must be deleted through Kafka's Admin API.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import kopf
from kopf._core.intents.handlers import TimerHandler

from sensorpipe_operator.engine import Engine
from sensorpipe_operator.kube import CHILD_KINDS, PIPELINES, VERSIONLESS, Kube
from sensorpipe_operator.metrics import count_write
from sensorpipe_operator.settings import Settings

MANAGED = {"app.kubernetes.io/managed-by": "sensorpipe"}
PREFIX = "iot.sensorpipe.dev"


def _deletes_admin_topics(spec: kopf.Spec, **_: Any) -> bool:
    """Only pipelines whose topics must be deleted in Kafka itself get a finalizer; everything
    else is removed by owner references, so a stopped operator never blocks a deletion."""
    kafka = spec.get("kafka") or {}
    return kafka.get("topicBackend") == "admin" and bool(kafka.get("deleteTopicsWithPipeline"))


def no_timer_finalizers(registry: kopf.OperatorRegistry) -> None:
    """Let timers run without a finalizer on the pipeline.

    kopf (1.38, pinned) puts a finalizer on every object that has a timer, so that a daemon can
    be stopped before its object goes. Our timers are stateless ticks, and that finalizer
    would make every pipeline undeletable (and its namespace stuck Terminating) whenever no
    operator runs. kopf offers no switch for it, so the registered timer handlers are
    replaced by copies that do not ask for one.
    """
    spawning = registry._spawning
    spawning._handlers = [
        dataclasses.replace(h, requires_finalizer=False) if isinstance(h, TimerHandler) else h
        for h in spawning._handlers
    ]


def register(config: Settings, registry: kopf.OperatorRegistry | None = None) -> None:
    registry = registry or kopf.get_default_registry()
    group, version, plural = PIPELINES.group, PIPELINES.version, PIPELINES.plural

    @kopf.on.startup(id="sensorpipe-start", registry=registry)
    def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        settings.persistence.finalizer = f"{PREFIX}/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=PREFIX)
        # Only explicit events (engine._event) and warnings become Kubernetes Events: kopf
        # would otherwise post "handler succeeded" for every resync tick, a write each time.
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.networking.request_timeout = 60
        # With a peering name, never fall back to acting alone when the peering object is
        # missing: two replicas must never both act.
        settings.peering.mandatory = bool(config.peering)
        memo.engine = Engine(Kube.from_environment(on_write=count_write), config.images)

    @kopf.on.event(group, version, plural, id="pipeline", registry=registry)
    async def pipeline_event(
        type: str | None, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
    ) -> None:
        engine: Engine = memo.engine
        engine.observe_pipeline(type, body)
        if type == "DELETED":
            return
        engine.status_seen(body)
        await engine.reconcile(body, patch.status, trigger="watch")

    @kopf.timer(
        group, version, plural, id="resync", interval=config.resync_seconds, registry=registry
    )
    async def resync(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
        await memo.engine.reconcile(body, patch.status, trigger="timer")

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
