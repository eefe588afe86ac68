"""The topics a pipeline needs, independent of how they are created.

Both topic backends (Strimzi ``KafkaTopic`` resources and Kafka's Admin API) start from this
one plan, so they create the same topics with the same partitions and config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorpipe_contract import naming
from sensorpipe_operator.model import Pipeline


@dataclass(frozen=True)
class TopicPlan:
    key: str  # stable id inside the pipeline: stream-<name>, deadletter, aggregates, alerts
    name: str  # the Kafka topic name
    partitions: int
    replicas: int
    config: dict[str, str] = field(default_factory=dict)


def plan(pipeline: Pipeline) -> list[TopicPlan]:
    defaults = pipeline.kafka.topic_defaults
    config = {
        "retention.ms": str(round(defaults.retention_seconds * 1000)),
        "min.insync.replicas": str(defaults.min_insync_replicas),
        "cleanup.policy": "delete",
    }
    topics = [
        TopicPlan(
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
        TopicPlan(
            key=key,
            name=name,
            partitions=defaults.partitions,
            replicas=defaults.replicas,
            config=dict(config),
        )
        for key, name in extra
    ]
    return topics
