"""Strimzi ``KafkaTopic`` resources, one per planned topic, in the API version the cluster
serves (``strimzi.choose``: ``kafka.strimzi.io/v1`` on Strimzi 0.49+, ``v1beta2`` on 0.48; the
spec is the same in both).

The resource name is ``<pipeline>-<key>`` (always a valid object name) and ``spec.topicName``
carries the real topic name, which may hold characters object names may not.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_contract import naming
from sensorpipe_operator.builders.common import metadata
from sensorpipe_operator.kube import KAFKA_TOPICS
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.topics import DesiredTopic, desired_topics

API_VERSION = KAFKA_TOPICS.api_version
CLUSTER_LABEL = "strimzi.io/cluster"


def resource_name(pipeline: Pipeline, topic: DesiredTopic) -> str:
    return naming.topic_object(pipeline.name, topic.key)


def _config_value(value: str) -> int | str:
    """Strimzi keeps numeric configs as numbers; keep them so, or every read looks changed."""
    return int(value) if value.isdigit() else value


def build_one(
    pipeline: Pipeline, topic: DesiredTopic, api_version: str = API_VERSION
) -> dict[str, Any]:
    meta = metadata(pipeline, resource_name(pipeline, topic), "topic", topic.key)
    meta["labels"][CLUSTER_LABEL] = pipeline.kafka.cluster_ref
    return {
        "apiVersion": api_version,
        "kind": "KafkaTopic",
        "metadata": meta,
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": topic.replicas,
            "config": {k: _config_value(v) for k, v in topic.config.items()},
        },
    }


def build(pipeline: Pipeline, api_version: str = API_VERSION) -> list[dict[str, Any]]:
    return [build_one(pipeline, t, api_version) for t in desired_topics(pipeline)]
