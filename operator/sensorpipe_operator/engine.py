"""Reconciliation: turns a SensorPipeline body into writes to its children and its status.

The engine keeps an in-memory view of every child (fed by the child watches and by the
results of its own writes), so a reconcile with nothing to change costs no API request at
all; only drifted or missing children are server-side applied. It runs in kopf's event loop;
blocking API and Kafka calls go to threads, and one lock per pipeline keeps the watch, timer
and child-repair paths from interleaving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from sensorpipe_contract.identity import AUTOSCALER_MANAGER, PIPELINE_LABEL
from sensorpipe_operator import (
    admin_topics,
    device_policy,
    metrics,
    plan,
    status,
    strimzi,
)
from sensorpipe_operator.builders import autoscaled_fields, desired_children
from sensorpipe_operator.builders.common import consumer_name, gateway_name, spark_name
from sensorpipe_operator.kafka_clients import KafkaClients
from sensorpipe_operator.kube import KAFKA_TOPICS, KINDS, PIPELINES, Kind, Kube, KubeError
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import Pipeline, parse
from sensorpipe_operator.settings import DEFAULT_DEVICE_PATHS, DEFAULT_DEVICE_RESOURCES, Images
from sensorpipe_operator.status_writer import StatusWriter, event
from sensorpipe_operator.topics import TopicBackend, desired_topics

log = logging.getLogger(__name__)
PipelineKey = tuple[str, str]  # (namespace, name)
HTTP_CONFLICT = 409
HTTP_NOT_FOUND = 404
FIRST_KINDS = ("ServiceAccount", "RoleBinding", "ConfigMap")
CONDITION_OF_KIND = {
    "KafkaTopic": status.TOPICS,
    "Deployment": status.GATEWAYS,
    "SparkApplication": status.PROCESSING,
    "ConfigMap": status.PROCESSING,
    "ServiceAccount": status.PROCESSING,
    "RoleBinding": status.PROCESSING,
}


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int(obj.get("metadata", {}).get("resourceVersion", "0"))
    except ValueError:
        return 0


@dataclass
class Engine:
    kube: Kube
    kafka: KafkaClients
    images: Images
    allowed_devices: tuple[str, ...] = DEFAULT_DEVICE_PATHS
    allowed_device_resources: tuple[str, ...] = DEFAULT_DEVICE_RESOURCES
    children: dict[PipelineKey, dict[plan.ChildKey, dict[str, Any]]] = field(default_factory=dict)
    pipelines: dict[PipelineKey, dict[str, Any]] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    status_writer: StatusWriter = field(default_factory=StatusWriter)
    # The last failure reported per (namespace, kind, name): a child that keeps failing is
    # announced once, not on every resync tick.
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    topic_api: strimzi.TopicApi = field(init=False)
    topic_backends: dict[str, TopicBackend] = field(init=False)  # by spec.kafka.topicBackend

    def __post_init__(self) -> None:
        self.topic_api = strimzi.TopicApi(self.kube.served_versions)
        self.topic_backends = {
            "strimzi": strimzi.StrimziTopics(
                self.topic_api, lambda key: self.children.get(key, {})
            ),
            "admin": admin_topics.AdminTopics(self.kafka),
        }

    def kind(self, name: str) -> Kind:
        """The API kind of a child kind's name; KafkaTopic in the version the cluster serves."""
        if name == KAFKA_TOPICS.kind:
            return self.topic_api.kind or KAFKA_TOPICS
        return KINDS[name]

    # ------------------------------------------------------------------ the in-memory view

    def observe_child(self, event_type: str | None, body: Mapping[str, Any]) -> PipelineKey | None:
        """Record a child from a watch event (or a write's response); newer versions win."""
        meta = body.get("metadata", {})
        pipeline = (meta.get("labels") or {}).get(PIPELINE_LABEL)
        if not pipeline:
            return None
        pkey = (meta.get("namespace", ""), pipeline)
        ckey = (body.get("kind", ""), meta.get("name", ""))
        known = self.children.setdefault(pkey, {})
        if event_type == "DELETED":
            if ckey in known and _rv(known[ckey]) <= _rv(body):
                del known[ckey]
        elif ckey not in known or _rv(known[ckey]) <= _rv(body):
            known[ckey] = dict(body)
        return pkey

    def observe_pipeline(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event_type == "DELETED":
            self.forget(key, meta.get("uid", ""))
        else:
            self.pipelines[key] = dict(body)

    def forget(self, key: PipelineKey, uid: str) -> None:
        self.pipelines.pop(key, None)
        self.children.pop(key, None)
        self.status_writer.forget(uid)
        for backend in self.topic_backends.values():
            backend.forget(uid)
        metrics.pipeline_phase(*key, None)
        self._gauges()

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())

    # ---------------------------------------------------------------------- desired state

    def desired(self, body: Mapping[str, Any]) -> tuple[Pipeline, list[dict[str, Any]]]:
        """The model and the children (owned and labelled) of a pipeline body."""
        meta = body["metadata"]
        model = parse(body.get("spec"), meta["name"], meta["namespace"])
        device_policy.check(model, self.allowed_devices, self.allowed_device_resources)
        topic_kind = self.topic_api.kind
        children = desired_children(
            model, self.images, topic_kind.api_version if topic_kind else None
        )
        kopf.adopt(children, owner=dict(body))  # type: ignore[arg-type]
        if not model.kafka.delete_topics_with_pipeline:
            # Topics hold data: without an owner reference the garbage collector keeps them
            # when the pipeline goes, and no finalizer is needed to say so.
            for child in children:
                if child["kind"] == "KafkaTopic":
                    del child["metadata"]["ownerReferences"]
        return model, children

    # ---------------------------------------------------------------------------- reconcile

    async def reconcile(
        self, body: Mapping[str, Any], patch_status: MutableMapping[str, Any], trigger: str
    ) -> None:
        """Bring the children and the status of one pipeline in line with its spec."""
        meta = body["metadata"]
        if meta.get("deletionTimestamp"):
            return
        started = time.monotonic()
        result = "ok"
        async with self.lock(meta["uid"]):
            try:
                await self._reconcile(body, patch_status)
            except SpecError as exc:
                result = "invalid"
                self.status_writer.write(
                    body, patch_status, status.invalid(meta.get("generation", 1), str(exc))
                )
            except Exception:
                result = "error"
                raise
            finally:
                self._gauges()
                metrics.RECONCILES.labels(trigger=trigger, result=result).inc()
                metrics.RECONCILE_SECONDS.labels(trigger=trigger).observe(
                    time.monotonic() - started
                )

    async def _reconcile(
        self, body: Mapping[str, Any], patch_status: MutableMapping[str, Any]
    ) -> None:
        meta = body["metadata"]
        pkey = (meta["namespace"], meta["name"])
        # Cached after the first answer: a thread hop, and an API call only while none is known.
        await asyncio.to_thread(self.topic_api.resolve)
        model, desired = self.desired(body)
        live = self.children.setdefault(pkey, {})
        todo = plan.make(
            desired,
            live,
            meta["uid"],
            keep_topics=not model.kafka.delete_topics_with_pipeline,
            autoscaled=autoscaled_fields(model),
        )
        creating = any(plan.key_of(m) not in live for m in todo.apply)
        if creating and not await self._still_there(meta):
            return  # deleted meanwhile: its children are being collected, do not bring them back
        errors = await self._carry_out(body, pkey, todo)
        backend = self.topic_backends[model.kafka.topic_backend]
        topics = await backend.readiness(body, model, todo.refused)
        checks = self._checks(model, pkey, topics.states, topics.refused)
        if topics.unusable is not None:
            checks[status.TOPICS] = topics.unusable
        for ctype, messages in errors.items():
            checks[ctype] = status.Check(False, "ApplyFailed", "; ".join(messages), failed=True)
        new = status.compute(meta.get("generation", 1), checks)
        new["topics"] = topics.listed
        self.status_writer.write(body, patch_status, new)

    def _checks(
        self,
        model: Pipeline,
        pkey: PipelineKey,
        topic_states: Mapping[str, status.Check],
        refused: list[str],
    ) -> dict[str, status.Check]:
        live = self.children.get(pkey, {})
        gateways = {
            g.name: live.get(("Deployment", gateway_name(model, g.name))) for g in model.gateways
        }
        consumers = {
            c.name: live.get(("Deployment", consumer_name(model, c.name))) for c in model.consumers
        }
        return {
            status.TOPICS: status.topics_check(topic_states, refused),
            status.PROCESSING: status.processing_check(
                live.get(("SparkApplication", spark_name(model))), consumers
            ),
            status.GATEWAYS: status.gateways_check(gateways),
        }

    def _gauges(self) -> None:
        kinds = Counter(kind for known in self.children.values() for kind, _ in known)
        for kind in KINDS:
            metrics.CHILDREN.labels(kind=kind).set(kinds.get(kind, 0))
        self.status_writer.phase_gauges()

    def status_seen(self, body: Mapping[str, Any]) -> None:
        self.status_writer.seen(body)

    # ----------------------------------------------------------------------- child writes

    async def _carry_out(
        self, body: Mapping[str, Any], pkey: PipelineKey, todo: plan.Plan
    ) -> dict[str, list[str]]:
        """Apply and delete as planned; returns error messages by the condition they belong
        to. Accounts, the driver's RoleBinding and config go first (the workloads use them), then
        the rest at once."""
        errors: dict[str, list[str]] = {}
        owner = dict(body)
        first = [m for m in todo.apply if m["kind"] in FIRST_KINDS]
        for wave in (first, [m for m in todo.apply if m["kind"] not in FIRST_KINDS]):
            await asyncio.gather(
                *(
                    self._apply(owner, pkey, m, errors, todo.handovers.get(plan.key_of(m)))
                    for m in wave
                )
            )
        for key in todo.delete:
            await self._remove(owner, pkey, key, errors)
        return errors

    async def _apply(
        self,
        owner: dict[str, Any],
        pkey: PipelineKey,
        manifest: dict[str, Any],
        errors: dict[str, list[str]],
        handover: dict[str, Any] | None = None,
    ) -> None:
        """Apply one child, after handing the autoscaler the fields only the operator owns."""
        key = plan.key_of(manifest)
        existed = key in self.children.get(pkey, {})
        try:
            if handover is not None and not await self._hand_over(handover):
                return
            result = await asyncio.to_thread(self.kube.apply, manifest)
        except KubeError as exc:
            if exc.status == HTTP_NOT_FOUND and key[0] == KAFKA_TOPICS.kind:
                self.topic_api.forget()  # Strimzi changed its served versions: ask again
            message = f"{key[0]} {key[1]}: {exc.message}"
            errors.setdefault(CONDITION_OF_KIND[key[0]], []).append(message)
            if self.failures.get((pkey[0], *key)) != message:
                self.failures[(pkey[0], *key)] = message
                event(owner, warning=True, reason="ApplyFailed", message=message)
            return
        self.failures.pop((pkey[0], *key), None)
        self.observe_child("MODIFIED", result)
        verb = "Updated" if existed else "Created"
        event(owner, reason=verb, message=f"{verb.lower()} {key[0]} {key[1]}")

    async def _hand_over(self, handover: dict[str, Any]) -> bool:
        """Apply ``handover`` as the autoscaler's field manager; False when the child changed
        since it was seen (its resourceVersion is the precondition), so that a scale the
        autoscaler has just set is never written back. The watch event of that change plans
        the child again."""
        try:
            handed = await asyncio.to_thread(self.kube.apply, handover, AUTOSCALER_MANAGER, False)
        except KubeError as exc:
            if exc.status != HTTP_CONFLICT:
                raise
            name = handover["metadata"]["name"]
            log.info("%s %s changed before its scale was handed over", handover["kind"], name)
            return False
        self.observe_child("MODIFIED", handed)
        return True

    async def _remove(
        self,
        owner: dict[str, Any],
        pkey: PipelineKey,
        key: plan.ChildKey,
        errors: dict[str, list[str]],
    ) -> None:
        try:
            await asyncio.to_thread(self.kube.delete, self.kind(key[0]), pkey[0], key[1])
        except KubeError as exc:
            if exc.status != 404:
                errors.setdefault(CONDITION_OF_KIND[key[0]], []).append(
                    f"{key[0]} {key[1]}: {exc.message}"
                )
                return
        self.children.get(pkey, {}).pop(key, None)
        event(owner, reason="Deleted", message=f"deleted {key[0]} {key[1]}")

    async def _still_there(self, meta: Mapping[str, Any]) -> bool:
        """Whether the pipeline still exists and is not being deleted, asked of the server:
        a pipeline is deleted at once (no finalizer) and the garbage collector may already
        be removing children that our cached view thinks missing."""
        fresh = await asyncio.to_thread(self.kube.get, PIPELINES, meta["namespace"], meta["name"])
        return (
            fresh is not None
            and not fresh["metadata"].get("deletionTimestamp")
            and fresh["metadata"]["uid"] == meta["uid"]
        )

    async def repair_child(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A child changed or vanished: if its owner still wants it as it was, put it back.

        Called for every child watch event; it only writes when the child drifted.
        """
        pkey = self.observe_child(event_type, body)
        if pkey is None:
            return
        owner = self.pipelines.get(pkey)
        if owner is None or owner["metadata"].get("deletionTimestamp"):
            return
        async with self.lock(owner["metadata"]["uid"]):
            if event_type == "DELETED" and not await self._still_there(owner["metadata"]):
                return
            try:
                model, desired = self.desired(owner)
            except SpecError:
                return
            key = plan.key_of(body)
            wanted = [c for c in desired if plan.key_of(c) == key]
            live = self.children.get(pkey, {})
            todo = plan.make(
                wanted,
                {k: v for k, v in live.items() if k == key},
                owner["metadata"]["uid"],
                True,
                autoscaled_fields(model),
            )
            if todo.apply:
                event(owner, reason="DriftRepaired", message=f"restoring {key[0]} {key[1]}")
                await self._carry_out(
                    owner, pkey, plan.Plan(apply=todo.apply, handovers=todo.handovers)
                )

    # --------------------------------------------------------------------------- deletion

    async def delete_topics(self, body: Mapping[str, Any]) -> None:
        """On deletion of an ``admin``-backend pipeline that asks for it, delete its topics in
        Kafka (Strimzi topics go through owner references instead)."""
        meta = body["metadata"]
        model = parse(body.get("spec"), meta["name"], meta["namespace"])
        errors = await self.topic_backends[model.kafka.topic_backend].delete(model)
        if errors:
            raise kopf.TemporaryError(f"deleting topics failed: {errors}", delay=5)
        event(
            body, reason="TopicsDeleted", message=", ".join(t.name for t in desired_topics(model))
        )
