"""The progress of a local run: one snapshot of the counters, and its one-line rendering.

``collect`` talks to the gateways and the broker; ``render`` is pure, so
the display's wording is testable without a pipeline. Snapshots are also written to the
work dir (status.json), which is how the report knows what each gateway produced after the
gateways are gone.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from confluent_kafka import KafkaException

from sensorpipe_contract.naming import spark_group
from sensorpipe_local import probes
from sensorpipe_operator.model.pipeline import Pipeline


@dataclass
class Snapshot:
    elapsed: float
    gateways: dict[str, dict[str, float] | None] = field(default_factory=dict)
    readings_in: int = 0
    published: int = 0
    rejected: int = 0
    processed: int = 0
    lag: int = 0
    alerts: int = 0
    dead_letter: int = 0
    aggregates: int = 0
    kafka_error: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stream_topics(pipeline: Pipeline) -> set[str]:
    return {pipeline.stream_topic(s) for s in pipeline.streams}


def collect(
    pipeline: Pipeline,
    gateway_ports: dict[str, int],
    offsets: probes.TopicOffsets,
    started: float,
    last: Snapshot | None = None,
) -> Snapshot:
    """A snapshot now. A gateway that does not answer keeps its last known counters, so a
    stopped gateway's final numbers survive into the report. Spark's figures come from the
    offsets it commits to its consumer group: what its ingest query has put into the lake
    (or dead-lettered)."""
    snap = Snapshot(elapsed=time.monotonic() - started)
    for name, port in gateway_ports.items():
        counters = probes.scrape_gateway(port)
        if counters is None and last is not None:
            counters = last.gateways.get(name)
        snap.gateways[name] = counters
    known = [c for c in snap.gateways.values() if c is not None]
    snap.readings_in = int(sum(c["readings_in"] for c in known))
    snap.published = int(sum(c["published"] for c in known))
    snap.rejected = int(sum(c["rejected"] for c in known))
    streams = stream_topics(pipeline)
    try:
        marks = offsets.watermarks(streams)
        counts = offsets.records(
            [pipeline.alerts_topic, pipeline.dead_letter_topic, pipeline.aggregates_topic]
        )
        committed = offsets.committed(spark_group(pipeline.name))
    except (KafkaException, TimeoutError) as exc:
        snap.kafka_error = str(exc) or "timed out"
        return snap
    snap.processed, snap.lag = probes.processed_and_lag(marks, committed)
    snap.alerts = counts[pipeline.alerts_topic]
    snap.dead_letter = counts[pipeline.dead_letter_topic]
    snap.aggregates = counts[pipeline.aggregates_topic]
    return snap


def render(snap: Snapshot) -> str:
    """One line for the terminal, every figure labelled."""
    line = (
        f"[{snap.elapsed:6.0f}s] in {snap.readings_in}  published {snap.published}  "
        f"rejected {snap.rejected}  processed {snap.processed}  lag {snap.lag}  "
        f"dead-letter {snap.dead_letter}  aggregates {snap.aggregates}  alerts {snap.alerts}"
    )
    down = sorted(name for name, c in snap.gateways.items() if c is None)
    if down:
        line += f"  (no metrics yet: {', '.join(down)})"
    if snap.kafka_error:
        line += f"  (Kafka: {snap.kafka_error})"
    return line
