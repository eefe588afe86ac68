"""Shared pieces of the Spark tests and benchmark: config documents, readings, Kafka I/O, and
an independent plain-Python computation of the windowed aggregates to compare against."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests import documents
from tests.simulated_faults import ALERT_RULES

STREAMS = [
    {
        "name": "climate",
        "fields": [
            {"name": "temperature", "type": "number", "unit": "Cel", "min": -40, "max": 80},
            {"name": "humidity", "type": "number", "unit": "%", "min": 0, "max": 100},
        ],
    },
    {
        "name": "distance",
        "fields": [{"name": "distance", "type": "number", "unit": "cm", "min": 2, "max": 400}],
    },
    {"name": "motion", "fields": [{"name": "motion", "type": "boolean"}]},
]
# The job's entry point, started as its own process the way the SparkApplication starts it.
MAIN = Path(__file__).resolve().parents[3] / "spark_apps" / "sensorpipe_spark" / "main.py"
WINDOW_S = 900.0
WATERMARK_S = 600.0
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the start of every generated hour


def pipeline_doc(
    name: str,
    bootstrap: str,
    lake: str,
    checkpoints: str,
    pg_table: str | None,
    lake_format: str = "delta",
) -> dict[str, Any]:
    """A runtime config document (docs/contracts.md §2) for a test pipeline called ``name``."""
    return {
        **documents.head(name, bootstrap),
        "topics": documents.topics(name, STREAMS),
        "streams": STREAMS,
        "processing": {
            "triggerInterval": 1.0,
            "window": WINDOW_S,
            "watermark": WATERMARK_S,
            "checkpointPath": checkpoints,
            "alerts": ALERT_RULES,
            "sinks": {
                "lake": {"format": lake_format, "path": lake},
                "postgres": {"dsnEnv": "PG_DSN", "table": pg_table} if pg_table else None,
                "aggregatesTopic": True,
            },
        },
    }


def topics_of(doc: dict[str, Any]) -> list[str]:
    """Every topic a pipeline document names."""
    t = doc["topics"]
    return [*t["streams"].values(), t["deadLetter"], t["aggregates"], t["alerts"]]


def reading(
    device: str, stream: str, seq: int, event_time: int, values: dict[str, Any]
) -> dict[str, Any]:
    """A reading as the gateway produces it (schemas/reading.schema.json)."""
    return {
        "v": 1,
        "device_id": device,
        "stream": stream,
        "seq": seq,
        "event_time": event_time,
        "received_at": event_time + 5,
        "gateway": "g1",
        "values": values,
    }


def create_topics(bootstrap: str, names: Iterable[str], partitions: int = 2) -> None:
    """Create the topics (as the operator would) and wait until they exist."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    )
    for f in futures.values():
        f.result(timeout=60)


def produce(bootstrap: str, records: Iterable[tuple[str, str | None, bytes]]) -> int:
    """Produce (topic, key, value) records and wait until every one is acknowledged."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20}
    )
    errors: list[Any] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    count = 0
    for topic, key, value in records:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} records not delivered"
    assert not errors, errors[:3]
    return count


def produce_readings(bootstrap: str, name: str, readings: Iterable[dict[str, Any]]) -> int:
    """Produce readings to their stream's topic, keyed by device id."""
    return produce(
        bootstrap,
        ((f"{name}.{r['stream']}", r["device_id"], json.dumps(r).encode()) for r in readings),
    )


def consume_all(bootstrap: str, topic: str) -> list[tuple[str | None, bytes, int]]:
    """Every record now on ``topic``: (key, value, broker timestamp ms), in partition order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-{time.time_ns()}",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=30)
        parts = sorted(meta.topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in parts
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[tuple[str | None, bytes, int]] = []
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + 120
        while len(done) < len(parts):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            out.append((msg.key().decode() if msg.key() else None, msg.value(), msg.timestamp()[1]))
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return out
    finally:
        consumer.close()


def consume_json(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The JSON values of every record on ``topic``."""
    return [json.loads(v) for _k, v, _t in consume_all(bootstrap, topic)]


AggKey = tuple[str, str, str, int]  # device, stream, field, window start ms


def oracle(
    readings: Iterable[dict[str, Any]], window_s: float = WINDOW_S
) -> dict[AggKey, tuple[Any, ...]]:
    """Count, min, max, mean and sample stddev per (device, stream, field, window), in Python."""
    window_ms = int(window_s * 1000)
    groups: dict[AggKey, list[float]] = defaultdict(list)
    for r in readings:
        start = r["event_time"] - r["event_time"] % window_ms
        for field, value in r["values"].items():
            groups[(r["device_id"], r["stream"], field, start)].append(float(value))
    return {
        k: (
            len(v),
            min(v),
            max(v),
            statistics.fmean(v),
            statistics.stdev(v) if len(v) > 1 else None,
        )
        for k, v in groups.items()
    }


def pg_aggregates(dsn: str, table: str) -> dict[AggKey, tuple[Any, ...]]:
    """The aggregates PostgreSQL holds for ``table``, keyed like :func:`oracle`."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT device_id, stream, field, (extract(epoch FROM window_start) * 1000)::bigint, "
            f"count, min, max, mean, stddev FROM {table}"
        ).fetchall()
    return {(r[0], r[1], r[2], int(r[3])): tuple(r[4:]) for r in rows}


def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Aggregates equal up to floating-point summation order."""
    return len(a) == len(b) and all(
        (x is None and y is None)
        or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9))
        for x, y in zip(a, b, strict=True)
    )
