"""Kafka source (confluent-kafka): records a foreign producer already writes to a topic.

The seeds' producers write one JSON object per record straight into a topic of their own
(``iot_topic``, ``sensor-data``); this source reads such a topic in a consumer group and
hands each record to the gateway, which maps it by the source's declared ``payload``.

Nothing is lost: a record's offset is stored for commit only once its reading (or its dead
letter) is safe in Kafka or the spool, and only when every earlier record of its partition
is safe too, so a crash re-reads at most what was not yet safe. A record read again gets
the same identity (its coordinates are its sequence number unless the payload has one), so
the second copy is a duplicate that the lake removes, not a new reading.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from sensorpipe_edge.payload import PayloadMapping, kafka_seq
from sensorpipe_edge.sources import Emit, Source

log = logging.getLogger(__name__)
START_FROM = ("earliest", "latest")
_MISSING_TOPIC = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)


class SafeOffsets:
    """Per partition, the offsets handed to the gateway in order, and which are safe: the
    offset to commit is the one after the longest safe run from the oldest. Readings of
    different devices go to different partitions downstream and come back safe out of
    order; committing past one not yet safe would lose it in a crash. Thread-safe: offsets
    are taken in the source's thread and made safe in the gateway's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, deque[int]] = {}
        self._safe: dict[int, set[int]] = {}
        self._ready: dict[int, int] = {}  # partition -> offset to commit, not yet stored

    def taken(self, partition: int, offset: int) -> None:
        with self._lock:
            self._pending.setdefault(partition, deque()).append(offset)
            self._safe.setdefault(partition, set())

    def safe(self, partition: int, offset: int) -> int | None:
        """Mark one offset safe; the next offset to commit if that moved, else None."""
        with self._lock:
            pending, safe = self._pending.get(partition), self._safe.get(partition)
            if pending is None or safe is None:
                return None  # revoked meanwhile: its new owner reads it again
            safe.add(offset)
            commit = None
            while pending and pending[0] in safe:
                safe.discard(first := pending.popleft())
                commit = first + 1
            if commit is not None:
                self._ready[partition] = commit
            return commit

    def ready(self) -> dict[int, int]:
        """The offsets to commit that moved since the last call, by partition."""
        with self._lock:
            ready, self._ready = self._ready, {}
            return ready

    def forget(self, partitions: list[int]) -> None:
        with self._lock:
            for p in partitions:
                self._pending.pop(p, None)
                self._safe.pop(p, None)
                self._ready.pop(p, None)


class KafkaSource(Source):
    """Consumes ``topic`` as ``group`` and emits each record as one foreign payload."""

    def __init__(
        self,
        client_conf: dict[str, Any],
        topic: str,
        group: str,
        payload: PayloadMapping,
        start_from: str = "earliest",
        batch: int = 500,
    ) -> None:
        super().__init__()
        if start_from not in START_FROM:
            raise ValueError(f"startFrom must be one of {START_FROM}, not {start_from!r}")
        self.payload = payload
        self.topic = topic
        self.group = group
        self.name = f"kafka:{topic}"
        self._batch = batch
        self._offsets = SafeOffsets()
        self._missing = False  # the topic was reported missing and has not come since
        self._consumer = Consumer(
            {
                **client_conf,
                "group.id": group,
                "auto.offset.reset": start_from,
                # Offsets are stored by ``_store`` only; the background commit sends them.
                "enable.auto.offset.store": False,
                "enable.auto.commit": True,
                "auto.commit.interval.ms": 1000,
                # A crashed gateway's partitions go to its restarted self (or a sibling)
                # after this long, not librdkafka's default 45 s.
                "session.timeout.ms": 10_000,
                "error_cb": self._on_error,
            }
        )

    def run(self, emit: Emit) -> None:
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        while not self._stop.is_set():
            try:
                messages = self._consumer.consume(self._batch, 0.2)
            except KafkaException as exc:
                log.warning("kafka source %s: %s", self.topic, exc)
                self._stop.wait(0.5)
                continue
            for msg in messages:
                err = msg.error()
                if err is not None:
                    self._on_message_error(err)
                    continue
                self.connected, self._missing = True, False
                partition, offset = msg.partition(), msg.offset()
                self._offsets.taken(partition, offset)
                ack: Callable[[], object] = partial(self._offsets.safe, partition, offset)
                emit(
                    [(msg.value() or b"", ack)],
                    f"kafka:{msg.topic()}/{partition}@{offset}",
                    kafka_seq(partition, offset),
                )
            self._store()

    def _store(self) -> None:
        """Store the offsets that the gateway's acknowledgements made ready, for the
        background commit. Only the thread that polls calls the consumer: a call from the
        gateway's thread (where acknowledgements run) waits for the poll to end."""
        ready = self._offsets.ready()
        if not ready:
            return
        try:
            self._consumer.store_offsets(
                offsets=[TopicPartition(self.topic, p, o) for p, o in ready.items()]
            )
        except KafkaException as exc:  # revoked meanwhile: its new owner reads it again
            log.info("offsets %s of %s not stored: %s", ready, self.topic, exc)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Joined the group (maybe with no partition: more replicas than partitions)."""
        log.info("kafka source %s assigned %s", self.topic, [p.partition for p in partitions])
        self.connected = bool(partitions) or not self._missing

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._offsets.forget([p.partition for p in partitions])

    def _on_message_error(self, err: KafkaError) -> None:
        """A topic that does not exist (yet) leaves the gateway running and not ready, and
        says so once; its first record makes it ready again."""
        if err.code() in _MISSING_TOPIC:
            if not self._missing:
                log.error("kafka source: topic %r does not exist (%s)", self.topic, err)
            self._missing = True
            self.connected = False
        elif err.code() != KafkaError._PARTITION_EOF:
            log.warning("kafka source %s: %s", self.topic, err)

    def _on_error(self, err: KafkaError) -> None:
        # Connected means "in the group"; an unreachable cluster already makes the gateway
        # not ready through its producer (the same cluster), and the consumer reconnects.
        log.warning("kafka source %s: %s", self.topic, err)

    def close(self) -> None:
        """After the gateway flushed (the last acknowledgements are in) and the polling
        thread ended: store and commit what is safe, and leave the group."""
        self._store()
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:  # nothing stored since the last commit, or Kafka away
            log.info("kafka source %s: final commit: %s", self.topic, exc)
        self._consumer.close()
