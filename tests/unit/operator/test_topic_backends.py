"""The Strimzi topic backend behind the engine's one topic interface (``topics.TopicBackend``):
what it reports from the KafkaTopic children the engine sees. The admin backend reports from a
real broker: tests/integration/operator/test_admin_backend.py."""

import asyncio
from typing import Any

import pytest

from sensorpipe_operator import strimzi
from sensorpipe_operator.builders.kafkatopic import resource_name
from sensorpipe_operator.model.pipeline import Pipeline, parse
from sensorpipe_operator.topics import TopicBackend, TopicsReadiness, desired_topics

from .specs import minimal

pytestmark = pytest.mark.unit
BODY = {"metadata": {"uid": "u1", "generation": 1}}


def ready_topic(name: str) -> dict[str, Any]:
    return {
        "kind": "KafkaTopic",
        "metadata": {"name": name, "generation": 1},
        "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def readiness(backend: TopicBackend, pipeline: Pipeline, refused: list[str]) -> TopicsReadiness:
    return asyncio.run(backend.readiness(BODY, pipeline, refused))


def test_strimzi_backend_reports_each_planned_topic_from_its_child():
    pipeline = parse(minimal(), "farm", "iot")
    first, *rest = desired_topics(pipeline)
    name = resource_name(pipeline, first)
    live = {("KafkaTopic", name): ready_topic(name)}
    api = strimzi.TopicApi(lambda group: ["v1"])
    api.resolve()
    backend = strimzi.StrimziTopics(api, lambda key: live if key == ("iot", "farm") else {})
    got = readiness(backend, pipeline, ["a refusal from the plan"])
    assert got.states[first.name].ok
    assert [got.states[t.name].reason for t in rest] == ["NotCreated"] * len(rest)
    assert got.listed[0] == {"name": first.name, "partitions": first.partitions, "ready": True}
    assert got.refused == ["a refusal from the plan"]
    assert got.unusable is None
    assert asyncio.run(backend.delete(pipeline)) == {}


def test_strimzi_backend_is_unusable_without_a_kafkatopic_api():
    pipeline = parse(minimal(), "farm", "iot")
    api = strimzi.TopicApi(lambda group: ["v1alpha1"])
    api.resolve()
    got = readiness(strimzi.StrimziTopics(api, lambda key: {}), pipeline, [])
    assert got.unusable is not None
    assert got.unusable.reason == "KafkaTopicAPIMissing"
    assert "v1alpha1" in got.unusable.message
