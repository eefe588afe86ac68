"""Kafka producer with an on-disk spool: nothing accepted is dropped while Kafka is away.

While Kafka is reachable, records go straight to an idempotent confluent-kafka producer
(acks=all: an acknowledgement means the record is replicated, and producer retries never
write it twice). When the broker becomes unreachable (librdkafka reports all brokers down,
or a delivery fails), what the producer already holds stays there and is retried by it
when the broker is back — exactly once, thanks to idempotence — while new records go to
the spool. A probe runs once per ``probe_interval``; once it succeeds the spool is
replayed in chunks from its head, each chunk committed only after every record in it was
acknowledged. While the spool is not empty, new records are appended behind it, so
records reach Kafka in the order they were accepted.

Delivery guarantee: a Kafka outage shorter than ``message_timeout_ms`` (default 5 min)
loses and duplicates nothing. Duplicates can arise only when the broker fails again in
the middle of a replay chunk (the chunk is replayed whole), when an outage outlasts the
message timeout (records in flight at its start are spooled although the broker may have
written them), or when the gateway shuts down during an outage (unsent records are
spooled for the next start): at least once, never lost, and consumers remove duplicates
by (device_id, seq).

Acknowledgement callbacks (``ack``) run once a record is either acknowledged by Kafka or
written to the spool: both survive a kill -9 of the gateway. Sources use them to
release input upstream (an MQTT PUBACK) or to persist a resume point.

That needs a delivery report per record, which costs a Python call and a Message object
per record, more than producing it. A source without acknowledgements (a serial port)
gets a sink with ``report_each=False`` instead: librdkafka then reports only failures
(each one still spooled, as above), and the records acknowledged are counted per poll as
those handed over minus those still in the producer minus those failed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from prometheus_client import Histogram

from sensorpipe_edge.metrics import Stats
from sensorpipe_edge.sources import Ack
from sensorpipe_edge.spool import Record, Spool, SpoolFull

log = logging.getLogger(__name__)


# Throughput settings: large lz4 batches, a short linger; idempotence implies acks=all,
# retries and max.in.flight <= 5 with ordering kept per partition.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 262_144,
    "reconnect.backoff.ms": 100,
    "reconnect.backoff.max.ms": 1000,
}
_DOWN = {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT}
# The latency histogram samples one acknowledgement in 64: a histogram observation per
# record would cost more than producing it.
LATENCY_SAMPLE_MASK = 63
REPLAY_TIMEOUT = 30.0  # seconds one replay chunk may take before Kafka counts as down


class KafkaSink:
    def __init__(
        self,
        client_conf: dict[str, Any],
        spool: Spool,
        stats: Stats,
        latency: Histogram | None = None,
        *,
        message_timeout_ms: int = 300_000,
        probe_interval: float = 1.0,
        replay_chunk: int = 10_000,
        report_each: bool = True,
    ) -> None:
        conf = {
            **PRODUCER_DEFAULTS,
            **client_conf,
            "message.timeout.ms": message_timeout_ms,
            "error_cb": self._on_error,
        }
        if not report_each:
            # The callback of every record produced without its own: failures only.
            conf |= {"delivery.report.only.error": True, "on_delivery": self._on_failure}
        self._producer = Producer(conf)
        self.report_each = report_each
        self._handed = 0  # records handed to the producer without acknowledgement callback
        self._failed = 0  # ... of which librdkafka reported as failed
        self._counted = 0  # ... of which ``published`` counts as delivered
        self._sample: tuple[int, float] | None = None  # (records handed, when): latency
        self._spool = spool
        self._stats = stats
        self._latency = latency
        self._probe_interval = probe_interval
        self._replay_chunk = replay_chunk
        self._replay_timeout = min(message_timeout_ms / 1000, REPLAY_TIMEOUT)
        self._last_probe = 0.0
        stats.spool_bytes = len(spool)

    def send(self, topic: str, key: bytes | None, value: bytes, ack: Ack | None = None) -> None:
        """Hand one record over; it is then Kafka's or the spool's, never lost silently."""
        if ack is not None and not self.report_each:
            raise ValueError("this sink reports no deliveries: it cannot acknowledge records")
        if self._stats.kafka_online and not self._stats.spool_bytes:
            try:
                self._produce(topic, key, value, ack)
                return
            except BufferError:
                self._producer.poll(0.1)  # local queue full: let deliveries drain once
                try:
                    self._produce(topic, key, value, ack)
                    return
                except BufferError:
                    pass
        self._to_spool(topic, key, value, ack)

    def send_all(self, records: Sequence[Record]) -> None:
        """``send`` without acknowledgements for a batch: with ``report_each=False``, one
        bare produce() per record (what a plain producer costs) and one count per batch."""
        if self.report_each or not self._stats.kafka_online or self._stats.spool_bytes:
            for topic, key, value in records:
                self.send(topic, key, value)
            return
        if not records:
            return
        topics, keys, values = zip(*records, strict=True)
        pending = iter(values)
        try:  # the loop runs in C: map() calls produce, deque() drives it
            deque(map(self._producer.produce, topics, pending, keys), maxlen=0)
        except BufferError:  # the producer is full: the rest, from the refused one, one by one
            first_unsent = len(records) - len(list(pending)) - 1
            self._handed += first_unsent
            for record in records[first_unsent:]:
                self.send(*record)
            return
        self._handed += len(records)

    def _produce(self, topic: str, key: bytes | None, value: bytes, ack: Ack | None) -> None:
        if not self.report_each:
            self._producer.produce(topic, value, key)
            self._handed += 1
            return
        cb = self._on_delivery if ack is None else partial(self._on_delivery_ack, ack)
        self._producer.produce(topic, value, key, on_delivery=cb)

    def _to_spool(self, topic: str, key: bytes | None, value: bytes, ack: Ack | None) -> None:
        try:
            self._spool.append(topic, key, value)
        except SpoolFull:
            self._stats.spool_dropped += 1
            log.warning("spool full: record for %s dropped", topic)
            return
        self._stats.spooled += 1
        self._stats.spool_bytes = len(self._spool)
        if ack is not None:
            ack()

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._stats.published += 1
            if self._latency is not None and not self._stats.published & LATENCY_SAMPLE_MASK:
                self._latency.observe(msg.latency() or 0.0)
            return
        self._went_offline(f"delivery failed: {err}")
        self._to_spool(msg.topic(), msg.key(), msg.value(), None)

    def _on_delivery_ack(self, ack: Ack, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self._on_delivery(err, msg)
            ack()
            return
        self._went_offline(f"delivery failed: {err}")
        self._to_spool(msg.topic(), msg.key(), msg.value(), ack)

    def _on_failure(self, err: KafkaError, msg: Message) -> None:
        """With ``report_each=False``, librdkafka calls this for failed records only."""
        self._failed += 1
        self._went_offline(f"delivery failed: {err}")
        self._to_spool(msg.topic(), msg.key(), msg.value(), None)

    def _count_deliveries(self) -> None:
        """Count what left the producer since the last poll (``report_each=False``): it
        holds the rest, and failures were counted by ``_on_failure``. Never less than
        before: replayed records still in the producer make the count low for a while.

        The latency histogram gets one sample at a time: the time until as many records
        were done as had been handed over when the sample started."""
        done = self._handed - len(self._producer)
        delivered = max(done - self._failed, self._counted)
        self._stats.published += delivered - self._counted
        self._counted = delivered
        if self._latency is None:
            return
        now = time.monotonic()
        if self._sample is None:
            if done < self._handed:
                self._sample = (self._handed, now)
        elif done >= self._sample[0]:
            self._latency.observe(now - self._sample[1])
            self._sample = None

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in _DOWN:
            self._went_offline(str(err))
        else:
            log.warning("kafka: %s", err)

    def _went_offline(self, why: str) -> None:
        if self._stats.kafka_online:
            log.warning("kafka unreachable (%s): spooling to disk", why)
            self._stats.kafka_online = False
            self._last_probe = time.monotonic()

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery callbacks (they run in the caller's thread) and count deliveries."""
        self._producer.poll(timeout)
        if not self.report_each:
            self._count_deliveries()

    def maintain(self) -> None:
        """Probe Kafka while offline; replay one chunk of the spool while online."""
        if not self._stats.kafka_online:
            now = time.monotonic()
            if now - self._last_probe < self._probe_interval:
                return
            self._last_probe = now
            try:
                self._producer.list_topics(timeout=1.0)
            except KafkaException:
                return
            log.info("kafka reachable again: replaying %d spooled bytes", len(self._spool))
            self._stats.kafka_online = True
        if self._stats.spool_bytes:
            self._replay_once()

    def _replay_once(self) -> None:
        records, position = self._spool.peek(self._replay_chunk)
        failures: list[KafkaError] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(err)

        for topic, key, value in records:
            while True:
                try:
                    self._producer.produce(topic, value, key, on_delivery=delivered)
                    break
                except BufferError:
                    self._producer.poll(0.1)
        if self._producer.flush(self._replay_timeout) or failures:
            # Some of the chunk may have landed: it is replayed whole later (at least once).
            self._went_offline(f"replay failed: {failures[:1]}")
            return
        self._spool.commit(position)
        self._stats.replayed += len(records)
        self._stats.published += len(records)
        self._stats.spool_bytes = len(self._spool)

    def close(self, timeout: float = 10.0) -> None:
        """Flush; what Kafka did not take within ``timeout`` is spooled for the next start."""
        self._producer.flush(timeout)
        self._producer.purge(in_queue=True, in_flight=True)
        self._producer.flush(0)
        if not self.report_each:
            self._count_deliveries()
        self._spool.sync()
