"""The topics a pipeline needs, independent of how they are created, and the one interface
of the topic backends.

Both topic backends (Strimzi ``KafkaTopic`` resources, ``strimzi.StrimziTopics``, and Kafka's
Admin API, ``admin_topics.AdminTopics``) start from this one list, so they create the same
topics with the same partitions and config, and report them to the engine in one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sensorpipe_contract import naming
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.status import Check


@dataclass(frozen=True)
class DesiredTopic:
    key: str  # stable id inside the pipeline: stream-<name>, deadletter, aggregates, alerts
    name: str  # the Kafka topic name
    partitions: int
    replicas: int
    config: dict[str, str] = field(default_factory=dict)


def desired_topics(pipeline: Pipeline) -> list[DesiredTopic]:
    """Every topic the spec wants, as "desired" means for children: what the spec asks for,
    not yet compared with what exists (that is ``plan``'s job for children, a backend's for
    topics)."""
    defaults = pipeline.kafka.topic_defaults
    config = {
        "retention.ms": str(round(defaults.retention_seconds * 1000)),
        "min.insync.replicas": str(defaults.min_insync_replicas),
        "cleanup.policy": "delete",
    }
    topics = [
        DesiredTopic(
            key=naming.stream_topic_key(s.name),
            name=pipeline.stream_topic(s),
            partitions=pipeline.stream_partitions(s),
            replicas=defaults.replicas,
            config=dict(config),
        )
        for s in pipeline.streams
    ]
    extra = [("deadletter", pipeline.dead_letter_topic), ("alerts", pipeline.alerts_topic)]
    if pipeline.processing.sinks.aggregates_topic:
        extra.insert(1, ("aggregates", pipeline.aggregates_topic))
    topics += [
        DesiredTopic(
            key=key,
            name=name,
            partitions=defaults.partitions,
            replicas=defaults.replicas,
            config=dict(config),
        )
        for key, name in extra
    ]
    return topics


@dataclass(frozen=True)
class TopicsReadiness:
    """What a backend says of a pipeline's topics, for the TopicsReady condition and
    ``status.topics``."""

    states: dict[str, Check]  # by Kafka topic name
    listed: list[dict[str, Any]]  # status.topics: name, partitions, ready
    refused: list[str]  # changes Kafka cannot make (partition decreases)
    unusable: Check | None = None  # the backend cannot work at all here (no KafkaTopic API)


class TopicBackend(Protocol):
    """How the engine has a pipeline's topics made, whichever ``spec.kafka.topicBackend`` says.

    ``refused`` is what the reconcile's plan refused of the pipeline's KafkaTopic children; a
    backend without such children has its own refusals."""

    async def readiness(
        self, body: Mapping[str, Any], pipeline: Pipeline, refused: list[str]
    ) -> TopicsReadiness: ...

    async def delete(self, pipeline: Pipeline) -> dict[str, str]:
        """Delete the pipeline's topics; errors by topic (empty when done)."""
        ...

    def forget(self, uid: str) -> None:
        """Drop what is remembered of a deleted pipeline."""
        ...
