"""The ``admin`` topic backend: topics made directly with Kafka's Admin API (confluent-kafka)
for clusters without Strimzi.

It does what the Strimzi topic operator would: create missing topics, add partitions, set the
declared configs, and refuse to decrease partitions (Kafka cannot), reporting each topic's
state for the TopicsReady condition. ``ensure`` and ``delete`` are synchronous;
``AdminTopics``, the backend the engine calls, runs them in a thread with the process's shared
Admin client for the pipeline's broker and credentials (``kafka_clients``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from sensorpipe_operator.kafka_clients import KafkaClients
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.status import Check
from sensorpipe_operator.topics import DesiredTopic, TopicsReadiness, desired_topics

log = logging.getLogger(__name__)
TIMEOUT = 10.0
RECHECK_SECONDS = 30.0


@dataclass(frozen=True)
class TopicState:
    name: str
    ready: bool
    partitions: int
    detail: str
    refused: str = ""  # a change Kafka cannot make (partition decrease)


def _wait(futures: dict[Any, Any]) -> dict[Any, str]:
    """Errors by key of a batch of admin futures (empty when all succeeded)."""
    errors = {}
    for key, fut in futures.items():
        try:
            fut.result(timeout=TIMEOUT)
        except KafkaException as exc:
            errors[key] = str(exc.args[0].str() if exc.args else exc)
    return errors


def ensure(admin: AdminClient, wanted: Iterable[DesiredTopic]) -> list[TopicState]:
    """Make the broker match ``wanted`` where Kafka allows it; one state per planned topic."""
    wanted = list(wanted)
    meta = admin.list_topics(timeout=TIMEOUT).topics
    # One request per name: librdkafka aborts the whole process on a batch that names a topic
    # twice, so a duplicate that slipped past the model must never reach it.
    missing = list({p.name: p for p in wanted if p.name not in meta}.values())
    created_errors = _create(admin, missing)
    grow = [p for p in wanted if p.name in meta and len(meta[p.name].partitions) < p.partitions]
    grow_errors = (
        _wait(admin.create_partitions([NewPartitions(p.name, p.partitions) for p in grow]))
        if grow
        else {}
    )
    config_errors = _align_configs(admin, [p for p in wanted if p.name in meta])
    states = []
    for p in wanted:
        have = len(meta[p.name].partitions) if p.name in meta else p.partitions
        error = created_errors.get(p.name) or grow_errors.get(p.name) or config_errors.get(p.name)
        if p.name in meta and have > p.partitions:
            states.append(
                TopicState(
                    p.name,
                    True,
                    have,
                    "exists",
                    refused=f"topic {p.name} has {have} partitions; decreasing to "
                    f"{p.partitions} is not possible in Kafka (recreate it to shrink)",
                )
            )
        elif error:
            states.append(TopicState(p.name, False, have, error))
        else:
            states.append(TopicState(p.name, True, max(have, p.partitions), "exists"))
    return states


def _create(admin: AdminClient, missing: list[DesiredTopic]) -> dict[str, str]:
    """Create ``missing`` in one batch; a batch the client refuses as a whole is split and
    retried topic by topic, so one bad topic costs only its own creation."""
    if not missing:
        return {}
    log.info("creating topics %s", [p.name for p in missing])
    new = [NewTopic(p.name, p.partitions, p.replicas, config=dict(p.config)) for p in missing]
    try:
        errors = _wait(admin.create_topics(new, request_timeout=TIMEOUT))
    except (KafkaException, ValueError, TypeError) as exc:
        if len(new) == 1:
            errors = {missing[0].name: str(exc)}
        else:
            errors = {}
            for topic in missing:
                errors.update(_create(admin, [topic]))
    return {k: v for k, v in errors.items() if "already exists" not in v}


def _align_configs(admin: AdminClient, wanted: list[DesiredTopic]) -> dict[str, str]:
    """Set declared configs that differ on existing topics; other configs are left alone."""
    if not wanted:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, p.name) for p in wanted]
    described = {
        res.name: fut
        for res, fut in admin.describe_configs(resources, request_timeout=TIMEOUT).items()
    }
    errors: dict[str, str] = {}
    to_alter = []
    for topic in wanted:
        try:
            entries = described[topic.name].result(timeout=TIMEOUT)
        except KafkaException as exc:
            errors[topic.name] = str(exc)
            continue
        changed = [k for k, v in topic.config.items() if k not in entries or entries[k].value != v]
        if changed:
            to_alter.append(
                ConfigResource(
                    ConfigResource.Type.TOPIC,
                    topic.name,
                    incremental_configs=[
                        ConfigEntry(k, topic.config[k], incremental_operation=AlterConfigOpType.SET)
                        for k in changed
                    ],
                )
            )
    if to_alter:
        log.info("altering topic configs of %s", [r.name for r in to_alter])
        for res, error in _wait(admin.incremental_alter_configs(to_alter)).items():
            errors[res.name] = error
    return errors


def delete(admin: AdminClient, names: list[str]) -> dict[str, str]:
    """Delete topics (only when the spec asks for it); errors by topic, missing ones ignored."""
    if not names:
        return {}
    errors = _wait(admin.delete_topics(names, operation_timeout=TIMEOUT))
    return {k: v for k, v in errors.items() if "UNKNOWN_TOPIC" not in v.upper()}


@dataclass
class _Checked:
    generation: int
    when: float
    states: list[TopicState]


class AdminTopics:
    """The topic backend that makes topics through Kafka's Admin API. The broker is asked at
    most every ``RECHECK_SECONDS`` per pipeline unless its spec changed or a topic is not
    ready yet: a converged pipeline costs the broker nothing between rechecks."""

    def __init__(self, kafka: KafkaClients, recheck: float = RECHECK_SECONDS) -> None:
        self._kafka = kafka
        self._recheck = recheck
        self._checked: dict[str, _Checked] = {}

    async def readiness(
        self, body: Mapping[str, Any], pipeline: Pipeline, refused: list[str]
    ) -> TopicsReadiness:
        """``refused`` is the plan's for KafkaTopic children, of which this backend has none:
        it finds its own refusals on the broker."""
        uid, gen = body["metadata"]["uid"], body["metadata"].get("generation", 1)
        last = self._checked.get(uid)
        fresh = (
            last is not None
            and last.generation == gen
            and time.monotonic() - last.when < self._recheck
            and all(s.ready for s in last.states)
        )
        if last is None or not fresh:
            try:
                states = await asyncio.to_thread(self._ensure, pipeline)
            except Exception as exc:  # the broker is unreachable or refused: report, retry
                states = [
                    TopicState(tp.name, False, 0, f"Kafka admin: {exc}")
                    for tp in desired_topics(pipeline)
                ]
            last = _Checked(gen, time.monotonic(), states)
            self._checked[uid] = last
        return TopicsReadiness(
            states={
                s.name: Check(s.ready, "Ready" if s.ready else "NotReady", s.detail)
                for s in last.states
            },
            listed=[
                {"name": s.name, "partitions": s.partitions, "ready": s.ready} for s in last.states
            ],
            refused=[s.refused for s in last.states if s.refused],
        )

    def _ensure(self, pipeline: Pipeline) -> list[TopicState]:
        return ensure(self._kafka.admin(pipeline), desired_topics(pipeline))

    async def delete(self, pipeline: Pipeline) -> dict[str, str]:
        names = [tp.name for tp in desired_topics(pipeline)]
        return await asyncio.to_thread(lambda: delete(self._kafka.admin(pipeline), names))

    def forget(self, uid: str) -> None:
        self._checked.pop(uid, None)
