"""The sink without per-record delivery reports (``report_each=False``, the serial source's),
against the real broker and against an address where no broker listens.

The gateway-level tests (dead letters, serial source) prove its records arrive; these pin
what they cannot reach: the count of deliveries and the latency samples taken without
reports, a producer queue that fills in the middle of a batch, and the refusal of
acknowledgements it could not honour.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram

from sensorpipe_edge.metrics import Stats
from sensorpipe_edge.sink import KafkaSink
from sensorpipe_edge.spool import Spool
from tests.integration.edge.helpers import create_pipeline, read_topics, wait_until

pytestmark = pytest.mark.integration

NOWHERE = "127.0.0.1:9"  # nothing listens on the discard port of the loopback


def _records(topic: str, n: int) -> list[tuple[str, bytes, bytes]]:
    return [(topic, b"dev-%d" % (i % 7), b'{"i":%d}' % i) for i in range(n)]


def test_deliveries_are_counted_and_sampled_without_reports(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    doc = create_pipeline(kafka_bootstrap, unique_name, {"type": "serial"})
    topic = doc["topics"]["streams"]["distance"]
    stats = Stats()
    latency = Histogram("latency_seconds", "test", registry=CollectorRegistry())
    sink = KafkaSink(
        {"bootstrap.servers": kafka_bootstrap},
        Spool(tmp_path / "spool", 1 << 20),
        stats,
        latency,
        report_each=False,
    )
    records = _records(topic, 3000)
    for i in range(0, len(records), 500):
        sink.send_all(records[i : i + 500])
        sink.poll(0)

    def all_counted() -> bool:
        sink.poll(0.1)
        return stats.published == len(records)

    wait_until("every record counted as published", all_counted, 60)
    sink.close()
    assert stats.published == len(records)
    assert stats.spooled == 0
    samples = {s.name: s.value for m in latency.collect() for s in m.samples}
    assert samples["latency_seconds_count"] >= 1
    assert samples["latency_seconds_sum"] > 0
    got = read_topics(kafka_bootstrap, [topic])  # the sink is closed: a complete snapshot
    assert sorted(r["i"] for r in got) == list(range(len(records)))
    with pytest.raises(ValueError, match="acknowledge"):
        sink.send(topic, b"k", b"{}", ack=lambda: None)


def test_a_full_producer_queue_spills_the_rest_of_the_batch_to_the_spool(tmp_path: Path) -> None:
    stats = Stats()
    spool = Spool(tmp_path / "spool", 1 << 20)
    sink = KafkaSink(
        {"bootstrap.servers": NOWHERE, "queue.buffering.max.messages": 10},
        spool,
        stats,
        report_each=False,
    )
    records = _records("t", 50)
    sink.send_all(records)
    assert stats.spooled == 40  # the producer took 10, the rest waits on disk
    sink.close(timeout=0.5)  # what the producer still holds is spooled too
    spooled, _ = spool.peek(100)
    assert sorted(spooled) == sorted(records)
    assert stats.published == 0
    assert stats.spooled == 50
