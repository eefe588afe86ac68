"""Reading whole topics once, up to the end they have now, for the report.

The report must count what is on Kafka at one moment, so each partition is read from its
low to its high watermark taken at the start, with manual assignment (no group, nothing
committed) and JSON decoding; an undecodable value is kept as ``None`` so it still counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from sensorpipe_local.probes import TopicOffsets

POLL_SECONDS = 1.0
IDLE_LIMIT = 30  # polls without a record before giving up on a partition's end


def read_all(bootstrap: str, topics: list[str]) -> Iterator[tuple[str, Any]]:
    """(topic, decoded value) for every record now on ``topics``."""
    offsets = TopicOffsets(bootstrap)
    try:
        marks = offsets.watermarks(topics)
    finally:
        offsets.close()
    todo = {
        (t, p): high for t, parts in marks.items() for p, (low, high) in parts.items() if high > low
    }
    if not todo:
        return
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "sensorpipe-report",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(t, p, marks[t][p][0]) for (t, p) in todo])
    idle = 0
    try:
        while todo and idle < IDLE_LIMIT:
            batch = consumer.consume(10000, POLL_SECONDS)
            idle = 0 if batch else idle + 1
            for msg in batch:
                if msg.error():
                    continue
                key = (msg.topic(), msg.partition())
                if key not in todo or msg.offset() >= todo[key]:
                    continue
                if msg.offset() + 1 >= todo[key]:
                    del todo[key]
                try:
                    yield msg.topic(), json.loads(msg.value())
                except (TypeError, ValueError):
                    yield msg.topic(), None
    finally:
        consumer.close()
