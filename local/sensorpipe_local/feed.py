"""A background Kafka consumer that keeps the dashboard's view up to date.

It reads the readings, aggregates and alerts topics from the beginning with a throw-away
group that never commits: the dashboard is a viewer, it must not move anyone's offsets nor
leave a group behind that the operator's lag measurement would pick up.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer

from sensorpipe_local.view import PipelineView
from sensorpipe_operator.model.pipeline import Pipeline

log = logging.getLogger(__name__)


def handlers(pipeline: Pipeline, view: PipelineView) -> dict[str, Callable[[dict[str, Any]], None]]:
    """Which view method each topic's records go to."""
    out: dict[str, Callable[[dict[str, Any]], None]] = {
        pipeline.stream_topic(s): view.add_reading for s in pipeline.streams
    }
    out[pipeline.alerts_topic] = view.add_alert
    if pipeline.processing.sinks.aggregates_topic:
        out[pipeline.aggregates_topic] = view.add_aggregate
    return out


class Feed:
    def __init__(self, pipeline: Pipeline, view: PipelineView, bootstrap: str) -> None:
        self._handlers = handlers(pipeline, view)
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"sensorpipe-dashboard-{uuid.uuid4().hex[:12]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "topic.metadata.refresh.interval.ms": 5000,
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-feed", daemon=True)

    def start(self) -> None:
        self._consumer.subscribe(list(self._handlers))
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            msg = self._consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                log.debug("dashboard consumer: %s", msg.error())
                continue
            handler = self._handlers.get(msg.topic())
            try:
                record = json.loads(msg.value())
            except (TypeError, ValueError):
                continue
            if handler is not None and isinstance(record, dict):
                handler(record)
        self._consumer.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
