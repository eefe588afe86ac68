"""What the progress display counts, read from what the running pipeline publishes.

Three sources, each the authority for its number and each one an operator on a cluster reads
too: a gateway's own ``/metrics`` (readings in, published, rejected); the broker (records on
each topic, and the offsets the Spark job commits to its consumer group after every ingest
batch, which is how the autoscaler measures it); and the lake (when each table was last
written). Spark's checkpoint files are its private state, in a format of its own version.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
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
    """Low and high watermarks of topics, through one long-lived consumer that never joins
    its group, and the offsets other groups committed, through one admin client."""

    def __init__(self, bootstrap: str, timeout: float = 5.0) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "sensorpipe-local-offsets",
                "enable.auto.commit": False,
            }
        )
        self._admin = AdminClient({"bootstrap.servers": bootstrap})
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

    def written_since(self, topic: str, when: float) -> bool:
        """Whether ``topic`` holds a record produced at or after ``when`` (epoch seconds, by
        the records' own timestamps)."""
        since = [TopicPartition(topic, p, int(when * 1000)) for p in self.partitions(topic)]
        found = self._consumer.offsets_for_times(since, timeout=self._timeout) if since else []
        return any(tp.error is None and tp.offset >= 0 for tp in found)

    def committed(self, group: str) -> dict[str, dict[int, int]]:
        """{topic: {partition: next offset}} that ``group`` has committed (empty before its
        first commit); raises KafkaException when the broker is away."""
        request = ConsumerGroupTopicPartitions(group)
        future = self._admin.list_consumer_group_offsets([request], request_timeout=self._timeout)[
            group
        ]
        out: dict[str, dict[int, int]] = {}
        for tp in future.result(timeout=self._timeout).topic_partitions:
            if tp.error is None and tp.offset >= 0:
                out.setdefault(tp.topic, {})[tp.partition] = tp.offset
        return out

    def close(self) -> None:
        self._consumer.close()


def last_write(table: Path) -> float | None:
    """When anything in the lake table at ``table`` was last written (Delta log, Parquet
    files or a Parquet lake's batch markers alike), or None while it has no file."""
    times = [f.stat().st_mtime for f in table.rglob("*") if f.is_file()]
    return max(times) if times else None


def aggregates_caught_up(
    readings: Path, aggregates: Path, published_since: Callable[[float], bool] | None
) -> bool:
    """Whether the aggregates query has finished a batch that started after the readings it
    streams from the lake were last written: it wrote the aggregates table after them and,
    when it also publishes them (last, after the lake and PostgreSQL), ``published_since``
    (the aggregates topic's :meth:`TopicOffsets.written_since`) finds a record after that.
    A batch whose readings all fall behind the watermark writes nothing, so the drain then
    waits for its timeout; nothing is lost."""
    read = last_write(readings)
    if read is None:
        return True
    written = last_write(aggregates)
    if written is None or written < read:
        return False
    return published_since is None or published_since(written)


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
