"""Rules that span several parts of the spec, checked once the whole pipeline is parsed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sensorpipe_operator.model.errors import SpecError

if TYPE_CHECKING:  # the pipeline module calls ``check`` from its parser
    from sensorpipe_operator.model.pipeline import Pipeline


def check(pipeline: Pipeline) -> None:
    """Refuse a pipeline whose parts each parse but do not fit together."""
    if (
        pipeline.scaling.enabled
        and pipeline.scaling.target == "consumers"
        and not pipeline.consumers
    ):
        raise SpecError("spec.scaling.target", "is consumers but spec.consumers is empty")
    _distinct_topics(pipeline)
    _foreign_topics(pipeline)


def _distinct_topics(pipeline: Pipeline) -> None:
    """Two topics of one pipeline must not resolve to one Kafka name: the topic backends would
    make (or fight over) one topic for two purposes. Kafka also refuses names that differ only
    by ``.`` against ``_`` (its metric names would collide), so those count as one."""
    seen: dict[str, tuple[str, str]] = {}
    named = [(pipeline.stream_topic(s), "spec.streams") for s in pipeline.streams]
    named += [
        (pipeline.dead_letter_topic, "spec.kafka.topics"),
        (pipeline.aggregates_topic, "spec.kafka.topics"),
        (pipeline.alerts_topic, "spec.kafka.topics"),
    ]
    for topic, path in named:
        key = topic.replace(".", "_")
        if key in seen:
            other, other_path = seen[key]
            where = "spec.streams" if "spec.streams" in (path, other_path) else path
            raise SpecError(
                where, f"topics {other!r} and {topic!r} are one Kafka topic; give each its own name"
            )
        seen[key] = (topic, path)


def _foreign_topics(pipeline: Pipeline) -> None:
    """A Kafka source reads a foreign producer's topic: one of the pipeline's own topics would
    feed the gateway its own readings or dead letters, forever."""
    own = {pipeline.stream_topic(s) for s in pipeline.streams}
    own |= {pipeline.dead_letter_topic, pipeline.aggregates_topic, pipeline.alerts_topic}
    for i, gateway in enumerate(pipeline.gateways):
        kafka = gateway.source.kafka
        if kafka is not None and kafka.topic in own:
            raise SpecError(
                f"spec.gateways[{i}].source.kafka.topic",
                f"{kafka.topic!r} is a topic of the pipeline itself; name the producer's topic",
            )
