"""Reading a consumer group's offsets from the real broker with Kafka's Admin API.

One ``Snapshot`` per call: for every partition of the group's topics, the end offset, the
group's committed offset (None where it never committed) and, only where it never committed,
the earliest retained offset. Any failure to reach the broker becomes ``Snapshot.error``
rather than an exception: the policy must see an outage as "unknown", never as "no lag".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from sensorpipe_operator.scaling.window import PartitionOffsets, Snapshot

log = logging.getLogger(__name__)


class LagReader:
    """Reads snapshots of consumer groups through an Admin client (the process's, from
    ``kafka_clients``; reading holds no state, so a reader is cheap to make per poll).

    ``timeout`` bounds each request, so a poll against a dead broker returns (with an error)
    within a few seconds instead of blocking the operator's timer.
    """

    def __init__(
        self,
        admin: AdminClient,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._admin = admin
        self._timeout = timeout
        self._clock = clock

    def snapshot(self, group: str, topics: Iterable[str]) -> Snapshot:
        """The group's offsets now; topics that do not exist yet are left out."""
        now = self._clock()
        try:
            partitions = self._read(group, list(topics))
        except KafkaException as exc:
            log.debug("cannot read offsets of group %s: %s", group, exc)
            return Snapshot(time=now, group=group, error=_describe(exc))
        return Snapshot(time=now, group=group, partitions=partitions)

    def _read(self, group: str, topics: list[str]) -> tuple[PartitionOffsets, ...]:
        tps = self._partitions(topics)
        if not tps:
            return ()
        committed = self._committed(group, tps)
        ends = self._offsets({tp: OffsetSpec.latest() for tp in tps})
        uncommitted = [tp for tp in tps if committed.get(tp) is None]
        starts = self._offsets({tp: OffsetSpec.earliest() for tp in uncommitted})
        return tuple(
            PartitionOffsets(
                topic=t,
                partition=p,
                end=ends[(t, p)],
                committed=committed.get((t, p)),
                start=starts.get((t, p), 0),
            )
            for t, p in tps
        )

    def _partitions(self, topics: list[str]) -> list[tuple[str, int]]:
        if not topics:
            return []
        futures = self._admin.describe_topics(
            TopicCollection(topics), request_timeout=self._timeout
        )
        out: list[tuple[str, int]] = []
        for topic, future in futures.items():
            try:
                description = future.result()
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue  # not created yet: nothing to consume, nothing to scale for
                raise
            out += [(topic, p.id) for p in description.partitions]
        return sorted(out)

    def _committed(
        self, group: str, tps: list[tuple[str, int]]
    ) -> dict[tuple[str, int], int | None]:
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in tps])
        futures = self._admin.list_consumer_group_offsets([request], request_timeout=self._timeout)
        result = futures[group].result()
        return {
            (tp.topic, tp.partition): (None if tp.offset < 0 else tp.offset)
            for tp in result.topic_partitions
        }

    def _offsets(self, specs: dict[tuple[str, int], Any]) -> dict[tuple[str, int], int]:
        if not specs:
            return {}
        request = {TopicPartition(t, p): spec for (t, p), spec in specs.items()}
        futures = self._admin.list_offsets(request, request_timeout=self._timeout)
        return {(tp.topic, tp.partition): fut.result().offset for tp, fut in futures.items()}


def _describe(exc: KafkaException) -> str:
    """A short, stable text for status and logs (KafkaError's repr is long and noisy)."""
    err = exc.args[0] if exc.args else None
    if isinstance(err, KafkaError):
        return f"{err.name()}: {err.str()}"
    return str(exc)
