"""What the progress display and the report count, read from the running pipeline itself.

Three sources, each the authority for its number: a gateway's own ``/metrics`` (readings in,
published, rejected), the broker's offsets (records on each topic), and the Spark job's
checkpoints (how far each streaming query has committed). Spark reads Kafka without a
consumer group, so its checkpoint is the only place its position is written down.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

GATEWAY_PREFIX = "sensorpipe_gateway"
GATEWAY_COUNTERS = ("readings_in", "published", "rejected", "spooled")


def parse_gateway_metrics(text: str) -> dict[str, float]:
    """The gateway's counters, summed over their labels (``rejected`` over every reason)."""
    wanted = {f"{GATEWAY_PREFIX}_{name}_total": name for name in GATEWAY_COUNTERS}
    out = dict.fromkeys(GATEWAY_COUNTERS, 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = wanted.get(sample.name)
            if name is not None:
                out[name] += sample.value
    return out


def scrape_gateway(port: int, timeout: float = 2.0) -> dict[str, float] | None:
    """The counters of the gateway on ``port``, or None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
            return parse_gateway_metrics(r.read().decode())
    except OSError:
        return None


class TopicOffsets:
    """Low and high watermarks of topics, through one long-lived consumer with no group."""

    def __init__(self, bootstrap: str, timeout: float = 5.0) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "sensorpipe-local-offsets",
                "enable.auto.commit": False,
            }
        )
        self._timeout = timeout

    def partitions(self, topic: str) -> list[int]:
        meta = self._consumer.list_topics(topic, timeout=self._timeout)
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            return []
        return sorted(info.partitions)

    def watermarks(self, topics: Iterable[str]) -> dict[str, dict[int, tuple[int, int]]]:
        """{topic: {partition: (low, high)}}; raises KafkaException when the broker is away."""
        out: dict[str, dict[int, tuple[int, int]]] = {}
        for topic in topics:
            out[topic] = {
                p: self._consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=self._timeout, cached=False
                )
                for p in self.partitions(topic)
            }
        return out

    def records(self, topics: Iterable[str]) -> dict[str, int]:
        """Records currently held per topic (high minus low watermark, summed)."""
        return {
            t: sum(high - low for low, high in parts.values())
            for t, parts in self.watermarks(topics).items()
        }

    def close(self) -> None:
        self._consumer.close()


def _latest_batch(folder: Path) -> int | None:
    return _latest_batch_of(folder, "[0-9]*")


def _latest_batch_of(folder: Path, pattern: str) -> int | None:
    """The highest number among file names (without suffix) matching ``pattern``."""
    ids = [int(p.stem) for p in folder.glob(pattern) if p.stem.isdigit()]
    return max(ids) if ids else None


def _batch_sources(query_dir: Path, batch: int | None) -> list[dict[str, Any]]:
    """The source offsets in ``offsets/<batch>``: a version line, a metadata line, then one
    JSON line per source."""
    if batch is None:
        return []
    try:
        lines = (query_dir / "offsets" / str(batch)).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines[2:]:
        try:
            source = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(source, dict):
            out.append(source)
    return out


def committed_sources(query_dir: Path) -> list[dict[str, Any]]:
    """The source offsets of one streaming query at its last committed batch.

    Spark writes ``offsets/<batch>`` (what a batch reads up to) and ``commits/<batch>`` once
    that batch is done; only committed batches count.
    """
    return _batch_sources(query_dir, _latest_batch(query_dir / "commits"))


def _kafka_positions(sources: list[dict[str, Any]]) -> dict[str, dict[int, int]]:
    """Topic -> partition -> next offset, from the Kafka sources among ``sources`` (a Kafka
    offset maps each topic to its partitions; Delta and file offsets hold plain values)."""
    out: dict[str, dict[int, int]] = {}
    for source in sources:
        for topic, parts in source.items():
            if isinstance(parts, dict):
                out[topic] = {int(p): int(o) for p, o in parts.items()}
    return out


def query_positions(query_dir: Path) -> dict[str, dict[int, int]]:
    """Kafka positions of one query at its last committed batch."""
    return _kafka_positions(committed_sources(query_dir))


def table_version(table: Path) -> int | None:
    """The latest commit of the Delta table at ``table`` (None if it has none)."""
    return _latest_batch_of(table / "_delta_log", "*.json")


def delta_readers_caught_up(checkpoints: Path, table: Path) -> bool:
    """Whether every query that streams from the Delta table at ``table`` has committed a
    batch that reaches its latest version. A Delta source offset names a table version and a
    file index in it; index -1 means "before the first file of that version"."""
    latest = table_version(table)
    if latest is None:
        return True
    for offsets_dir in checkpoints.glob("**/offsets"):
        if not _reads_delta(offsets_dir):
            continue
        delta = [s for s in committed_sources(offsets_dir.parent) if "reservoirVersion" in s]
        if not delta:
            return False  # planned a batch on the table, committed none yet
        for source in delta:
            version, index = int(source["reservoirVersion"]), int(source.get("index", -1))
            if version < latest or (version == latest and index < 0):
                return False
    return True


def _reads_delta(offsets_dir: Path) -> bool:
    """Whether the query's latest planned batch reads a Delta table."""
    batch = _latest_batch(offsets_dir)
    try:
        return "reservoirVersion" in (offsets_dir / str(batch)).read_text()
    except OSError:
        return False


def spark_positions(checkpoints: Path, topics: set[str]) -> dict[str, dict[int, int]]:
    """Per topic and partition, the position of the slowest query that reads it: what is
    certainly processed by every query (lake, aggregates, alerts). Empty while any query has
    planned no batch yet, or has planned one on the topics but committed none: the ingest
    query can be minutes behind the alerts query, and until both have finished a batch
    nothing is certainly processed."""
    merged: dict[str, dict[int, int]] = {}
    for offsets_dir in sorted(checkpoints.glob("**/offsets")):
        query_dir = offsets_dir.parent
        planned = _latest_batch(offsets_dir)
        if planned is None:
            return {}
        if not _kafka_positions(_batch_sources(query_dir, planned)):
            continue  # a query over the lake
        positions = query_positions(query_dir)
        if not positions:
            return {}
        for topic, parts in positions.items():
            if topic not in topics:
                continue
            into = merged.setdefault(topic, {})
            for partition, offset in parts.items():
                into[partition] = min(offset, into.get(partition, offset))
    return merged


def processed_and_lag(
    watermarks: dict[str, dict[int, tuple[int, int]]],
    positions: dict[str, dict[int, int]],
) -> tuple[int, int]:
    """Records Spark has processed and records still waiting for it, over the given topics.
    A partition the query has not reached yet counts from its low watermark."""
    processed = lag = 0
    for topic, parts in watermarks.items():
        done = positions.get(topic, {})
        for partition, (low, high) in parts.items():
            at = min(max(done.get(partition, low), low), high)
            processed += at - low
            lag += high - at
    return processed, lag
