"""Strimzi ``KafkaTopic`` resources (kafka.strimzi.io/v1beta2), one per planned topic.

The resource name is ``<pipeline>-<key>`` (always a valid object name) and ``spec.topicName``
carries the real topic name, which may hold characters object names may not.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_operator.builders.common import metadata
from sensorpipe_operator.model import Pipeline
from sensorpipe_operator.topics import TopicPlan, plan

API_VERSION = "kafka.strimzi.io/v1beta2"
CLUSTER_LABEL = "strimzi.io/cluster"


def resource_name(pipeline: Pipeline, topic: TopicPlan) -> str:
    return f"{pipeline.name}-{topic.key}"


def _config_value(value: str) -> int | str:
    """Strimzi keeps numeric configs as numbers; keep them so, or every read looks changed."""
    return int(value) if value.isdigit() else value


def build_one(pipeline: Pipeline, topic: TopicPlan) -> dict[str, Any]:
    meta = metadata(pipeline, resource_name(pipeline, topic), "topic", topic.key)
    meta["labels"][CLUSTER_LABEL] = pipeline.kafka.cluster_ref
    return {
        "apiVersion": API_VERSION,
        "kind": "KafkaTopic",
        "metadata": meta,
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": topic.replicas,
            "config": {k: _config_value(v) for k, v in topic.config.items()},
        },
    }


def build(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [build_one(pipeline, t) for t in plan(pipeline)]
