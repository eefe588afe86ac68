"""Committing the streaming job's progress to Kafka, where the operator's autoscaler reads it.

Structured Streaming keeps its Kafka offsets in the checkpoint, so to the broker the job
looks like a group that never consumed anything, and the autoscaler (which measures Spark by
the lag of the group ``<pipeline>.spark``, docs/contracts.md §6) would never see it work.
After every micro-batch of the ingest query, a listener commits that batch's end offsets to
that group. The alerts query reads the same topics but only the ingest query counts: it is
the one that makes readings durable in the lake, and a second query committing to the same
group would move the offsets back and forth between the two queries' positions.

The commits are only a measurement: the job never reads them back, its checkpoint stays the
truth. So a commit that fails (broker down) is logged and left to the next batch, whose
commit covers it, and nothing here may ever stop the job.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from pyspark.sql.streaming.listener import (
    QueryProgressEvent,
    QueryStartedEvent,
    QueryTerminatedEvent,
    StreamingQueryListener,
)

from sensorpipe_contract import naming
from sensorpipe_spark.config import JobConfig

log = logging.getLogger(__name__)
# A commit waits at most this long for the broker, so an outage does not hold up the
# delivery of the listener's later events for minutes.
COMMIT_TIMEOUT_S = 10.0
Offsets = dict[tuple[str, int], int]


def group(cfg: JobConfig) -> str:
    """The consumer group the autoscaler measures Spark by (contracts §6)."""
    return naming.spark_group(cfg.pipeline)


def end_offsets(sources: Iterable[Any], topics: Iterable[str]) -> Offsets:
    """(topic, partition) -> end offset of a progress's Kafka sources, for ``topics`` only.

    A Kafka source's ``endOffset`` is JSON ``{"topic": {"0": 123, ...}}``: per partition, the
    next offset to read, which is what a Kafka commit means. Other sources (the lake's Delta
    stream), other topics, and offsets that are not yet concrete (negative) are left out.
    """
    wanted = set(topics)
    out: Offsets = {}
    for source in sources:
        if not str(source.description).startswith("Kafka"):
            continue
        try:
            parsed = json.loads(source.endOffset)
        except (TypeError, ValueError):
            continue  # no end offset yet ("None" before the first batch)
        if not isinstance(parsed, dict):
            continue
        for topic, partitions in parsed.items():
            if topic not in wanted or not isinstance(partitions, dict):
                continue
            for partition, offset in partitions.items():
                if isinstance(offset, int) and offset >= 0:
                    out[(topic, int(partition))] = offset
    return out


def client_config(cfg: JobConfig) -> dict[str, Any]:
    """librdkafka settings for the config's bootstrap and authentication (the same
    credentials the connector uses, see ``kafka_io.auth_options``)."""
    conf: dict[str, Any] = {"bootstrap.servers": cfg.bootstrap_servers}
    auth: Mapping[str, Any] = cfg.authentication or {}
    if auth.get("type") == "scram-sha-512":
        conf.update(
            {
                "security.protocol": "SASL_SSL" if auth.get("caFile") else "SASL_PLAINTEXT",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": os.environ[str(auth.get("usernameEnv", "KAFKA_USERNAME"))],
                "sasl.password": os.environ[str(auth.get("passwordEnv", "KAFKA_PASSWORD"))],
            }
        )
    elif auth.get("type") == "tls":
        conf.update(
            {
                "security.protocol": "SSL",
                "ssl.certificate.location": str(auth["certFile"]),
                "ssl.key.location": str(auth["keyFile"]),
            }
        )
    if auth.get("caFile"):
        conf["ssl.ca.location"] = str(auth["caFile"])
    return conf


class OffsetCommitter(StreamingQueryListener):
    """Commits the end offsets of every finished micro-batch over the pipeline's stream
    topics to ``<pipeline>.spark``. Called on Spark's listener thread, one event at a time."""

    def __init__(self, cfg: JobConfig, query: str) -> None:
        self._cfg = cfg
        self._query = query  # the name of the one query whose progress is committed
        self._group = group(cfg)
        self._topics = frozenset(s.topic for s in cfg.streams)
        self._admin: AdminClient | None = None
        self._committed: Offsets = {}

    def onQueryStarted(self, event: QueryStartedEvent) -> None:
        """Nothing is committed before a batch has finished."""

    def onQueryProgress(self, event: QueryProgressEvent) -> None:
        if event.progress.name != self._query:
            return
        try:
            self.commit(end_offsets(event.progress.sources, self._topics))
        except Exception:  # whatever goes wrong here, the job goes on
            log.exception("committing the offsets of %s failed; next batch retries", self._group)

    def onQueryTerminated(self, event: QueryTerminatedEvent) -> None:
        """The last batch's progress came before; nothing is left to commit."""

    def commit(self, offsets: Offsets) -> bool:
        """Commit ``offsets`` unless they are what was committed last; False when the broker
        refused or could not be reached (the next call commits again)."""
        if not offsets or offsets == self._committed:
            return True
        if self._admin is None:
            self._admin = AdminClient(client_config(self._cfg))
        request = ConsumerGroupTopicPartitions(
            self._group, [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        )
        try:
            futures = self._admin.alter_consumer_group_offsets(
                [request], request_timeout=COMMIT_TIMEOUT_S
            )
            result = futures[self._group].result()
        except KafkaException as exc:
            log.warning("cannot commit offsets to %s (retried next batch): %s", self._group, exc)
            return False
        failed = [tp for tp in result.topic_partitions if tp.error is not None]
        if failed:
            log.warning("commit to %s refused for %s (retried next batch)", self._group, failed)
            return False
        self._committed = dict(offsets)
        return True
