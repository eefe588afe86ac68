"""The whole parsed ``SensorPipeline`` and ``parse``, which reads a spec through each part's
parser (docs/contracts.md §1).

The spec is parsed once, by this package, into frozen dataclasses with every default applied
and every duration in seconds; builders and the runtime config only ever read the model, never
the raw dict, so a default or a check lives in one place. Parsing repeats the CRD's checks (the
local runner has no API server to run them) and every error names the field path the way the
API server does (``spec.streams[1].fields[0].min``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_contract import naming
from sensorpipe_operator.model import consistency
from sensorpipe_operator.model.autoscaling import Scaling, parse_scaling
from sensorpipe_operator.model.cursor import NAME_PATTERN, Cursor
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.kafka import KafkaSpec, parse_kafka
from sensorpipe_operator.model.processing import Processing, parse_processing
from sensorpipe_operator.model.streams import Stream, parse_streams
from sensorpipe_operator.model.workloads import Consumer, Gateway, parse_consumers, parse_gateways

PIPELINE_NAME_MAX = 40


@dataclass(frozen=True)
class Pipeline:
    """One parsed SensorPipeline: what every builder reads."""

    name: str
    namespace: str
    kafka: KafkaSpec
    streams: tuple[Stream, ...]
    gateways: tuple[Gateway, ...] = ()
    processing: Processing = field(default_factory=Processing)
    consumers: tuple[Consumer, ...] = ()
    scaling: Scaling = field(default_factory=Scaling)

    def stream_topic(self, stream: Stream) -> str:
        return stream.topic or naming.stream_topic(self.name, stream.name)

    def stream_partitions(self, stream: Stream) -> int:
        return stream.partitions or self.kafka.topic_defaults.partitions

    @property
    def dead_letter_topic(self) -> str:
        return self.kafka.dead_letter_topic or naming.dead_letter_topic(self.name)

    @property
    def aggregates_topic(self) -> str:
        return self.kafka.aggregates_topic or naming.aggregates_topic(self.name)

    @property
    def alerts_topic(self) -> str:
        return self.kafka.alerts_topic or naming.alerts_topic(self.name)

    @property
    def checkpoint_path(self) -> str:
        return self.processing.checkpoint_path or naming.checkpoint_path(self.namespace, self.name)

    def consumer_group(self, consumer: Consumer) -> str:
        return naming.consumer_group(self.name, consumer.name)

    def source_group(self, gateway: Gateway) -> str:
        """The consumer group of a gateway's Kafka source (never a consumer's: those names
        have no dot)."""
        kafka = gateway.source.kafka
        return (
            kafka.group
            if kafka is not None and kafka.group
            else naming.gateway_source_group(self.name, gateway.name)
        )


def parse(spec: Mapping[str, Any] | None, name: str, namespace: str) -> Pipeline:
    """The model of ``spec`` for the pipeline ``namespace/name``; raises SpecError."""
    if not re.match(NAME_PATTERN, name) or len(name) > PIPELINE_NAME_MAX:
        raise SpecError(
            "metadata.name",
            f"must be a lowercase DNS label of at most {PIPELINE_NAME_MAX} characters",
        )
    root = Cursor(spec, "spec")
    streams = parse_streams(root)
    pipeline = Pipeline(
        name=name,
        namespace=namespace,
        kafka=parse_kafka(root.obj("kafka")),
        streams=streams,
        gateways=parse_gateways(root, streams),
        processing=parse_processing(root.obj("processing"), streams),
        consumers=parse_consumers(root),
        scaling=parse_scaling(root.obj("scaling")),
    )
    consistency.check(pipeline)
    return pipeline
