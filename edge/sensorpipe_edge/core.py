"""The gateway's loop: lines in, readings or dead letters out, one thread doing the work.

Sources run in their own threads and hand over batches through a bounded queue; this
loop parses, validates, encodes and hands records to the sink, serves Kafka's delivery
callbacks, and every ``maintain_every`` seconds lets the sink probe/replay and saves the
resume points. Keeping all of that on one thread means no locks on the hot path.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from operator import itemgetter

from sensorpipe_edge.boots import BootEpochs
from sensorpipe_edge.metrics import Stats
from sensorpipe_edge.payload import (
    MAX_PAYLOAD_BYTES,
    GatewaySeq,
    PayloadMapping,
    content_seq,
    extract,
)
from sensorpipe_edge.protocol import Rejected
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.resume import ResumePoints
from sensorpipe_edge.sink import KafkaSink
from sensorpipe_edge.sources import Ack, Emit, Item, Source

log = logging.getLogger(__name__)
_LINE, _ACK = itemgetter(0), itemgetter(1)  # of an Item, without a Python loop
_KEY = itemgetter(1)  # of a Record: the device id


class Gateway:
    def __init__(
        self,
        builder: RecordBuilder,
        sink: KafkaSink,
        stats: Stats,
        dead_letter_topic: str,
        resume: ResumePoints | None = None,
        maintain_every: float = 0.2,
        boots: BootEpochs | None = None,
    ) -> None:
        self.builder = builder
        self.sink = sink
        self.stats = stats
        self.resume = resume
        self.boots = boots  # for a source that tells its redeliveries: see boots.py
        if boots is not None:
            stats.reboots = boots.reboots
        self._dead_letter = dead_letter_topic
        self._maintain_every = maintain_every
        self._queue: queue.Queue[tuple[str, str, list[Item], int | None, bool]] = queue.Queue(
            maxsize=1000
        )
        self._mappings: dict[str, PayloadMapping] = {}  # by source name: foreign payloads
        self._gateway_seq = GatewaySeq()

    def handle(
        self,
        items: Sequence[Item],
        source: str,
        origin: str | None = None,
        redelivered: bool = False,
    ) -> None:
        """Turn a batch of lines into records and hand them to the sink, a batch at a time
        (one receive time, one call per step): per line, only what must be per line.
        ``source`` labels the metrics; dead letters name ``origin`` when the source gave one;
        ``redelivered`` lines cannot tell a reboot (boots.py)."""
        if not self.sink.report_each and any(map(_ACK, items)):
            raise ValueError("acknowledgements need a sink that reports each delivery")
        now = int(time.time() * 1000)
        self.stats.readings_in[source] += len(items)
        records, rejected = self.builder.records(list(map(_LINE, items)), now)
        if self.boots is not None:
            records = self.boots.stamp(records, redelivered)
        # Per device, so an alert can tell a silent device; Counter.update counts in C.
        self.stats.device_readings.update(map(_KEY, records))
        for i, rej in rejected:
            raw, ack = items[i]
            self._reject(raw, ack, rej, origin or source, now)
        if not self.sink.report_each:
            self.sink.send_all(records)
            return
        skip = {i for i, _ in rejected}
        acks = [ack for i, (_, ack) in enumerate(items) if i not in skip]
        for (topic, key, value), ack in zip(records, acks, strict=True):
            self.sink.send(topic, key, value, ack)

    def handle_foreign(
        self,
        items: Sequence[Item],
        source: str,
        mapping: PayloadMapping,
        origin: str | None = None,
        seq: int | None = None,
        redelivered: bool = False,
    ) -> None:
        """Turn foreign JSON payloads into readings through the source's declared mapping,
        one at a time (they come one per MQTT message or Kafka record). The sequence number
        is the payload's own if the mapping names one (a device counter, which may restart:
        boot epochs as for lines), else ``seq`` (a Kafka record's coordinates), else one from
        the content of a payload that carries its time, else the gateway's per-device count.
        A payload that does not map is dead-lettered whole, naming ``origin`` (MQTT topic,
        Kafka coordinates)."""
        now = int(time.time() * 1000)
        self.stats.readings_in[source] += len(items)
        if seq is not None and len(items) != 1:
            raise ValueError("a sequence number from the source is for a batch of one")
        for raw, ack in items:
            try:
                found = extract(mapping, raw)
                number = found.seq if found.seq is not None else seq
                if number is None and found.epoch_ms is not None:
                    number = content_seq(raw)
                if number is None:
                    number = self._gateway_seq.next(found.device_id, now)
                record = self.builder.mapped(found, number, now)
            except Rejected as rej:
                # An oversized payload is kept in part (its size is in the detail): whole,
                # its dead letter could exceed what the broker takes, and never be safe.
                self._reject(raw[:MAX_PAYLOAD_BYTES], ack, rej, origin or source, now)
                continue
            if found.seq is not None and self.boots is not None:
                (record,) = self.boots.stamp([record], redelivered)
            topic, key, value = record
            self.stats.device_readings[key] += 1
            self.sink.send(topic, key, value, ack)

    def _reject(self, raw: bytes, ack: Ack | None, rej: Rejected, origin: str, now: int) -> None:
        """Count a rejected input and send it to the dead-letter topic, whole."""
        self.stats.rejected[rej.reason] += 1
        key, value = self.builder.dead_letter(raw, rej, origin, now)
        self.sink.send(self._dead_letter, key, value, ack)

    def run(self, sources: Sequence[Source], stop: threading.Event) -> None:
        """Run until ``stop`` is set or every source has finished, then stop the sources
        and flush everything."""
        for src in sources:
            if src.payload is not None:
                self._mappings[src.name] = src.payload
            src.start(self._emitter(src.name))
        next_maintenance = 0.0
        try:
            while not stop.is_set() and not all(s.finished for s in sources):
                self._drain(timeout=0.05)
                now = time.monotonic()
                if now >= next_maintenance:
                    self._maintain(sources)
                    next_maintenance = now + self._maintain_every
        finally:
            for src in sources:
                src.stop()
            self._drain(timeout=0.0, limit=0)
            self.sink.close()
            for src in sources:
                src.close()
            self._save()
            log.info("gateway stopped")

    def _emitter(self, name: str) -> Emit:
        """What a source calls with a batch: queue it, tagged with the source's name."""

        def emit(
            items: list[Item],
            origin: str | None = None,
            seq: int | None = None,
            redelivered: bool = False,
        ) -> None:
            self._queue.put((name, origin or name, items, seq, redelivered))

        return emit

    def _drain(self, timeout: float, limit: int = 200) -> None:
        """Handle queued batches: wait up to ``timeout`` for the first, then take at most
        ``limit`` (so maintenance still runs under full load); limit 0 empties the queue."""
        try:
            batch = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            self.sink.poll(0)
            return
        handled = 0
        while True:
            name, origin, items, seq, redelivered = batch
            mapping = self._mappings.get(name)
            if mapping is None:
                self.handle(items, name, origin, redelivered)
            else:
                self.handle_foreign(items, name, mapping, origin, seq, redelivered)
            self.sink.poll(0)
            handled += 1
            if limit and handled >= limit:
                return
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                return

    def _save(self) -> None:
        """Persist the resume points and boot epochs (both live on the spool volume)."""
        if self.resume is not None:
            self.resume.save()
        if self.boots is not None:
            self.boots.save()

    def _maintain(self, sources: Sequence[Source]) -> None:
        self.sink.maintain()
        self._save()
        self.stats.source_connected = all(s.connected for s in sources)
        self.stats.heartbeat = time.monotonic()
