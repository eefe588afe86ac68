"""Gateway throughput into the real broker, beside two baselines measured in the same run.

    python -m tests.bench.bench_gateway        (KAFKA_BOOTSTRAP from `hack/stack.sh env`)

The same simulated lines (1000 devices, three streams) go through:

- the gateway: ``Gateway.handle`` — parse, verify CRC, validate against the stream ranges
  and schemas/reading.schema.json, encode, produce with the gateway's KafkaSink — until
  Kafka acknowledged everything; configured with a serial source, whose lines carry no
  acknowledgements, so its sink takes delivery reports for failures only;
- the same gateway configured with an MQTT source (not started), every line carrying an
  acknowledgement as MQTT and simulated lines do, so every record has a delivery report
  (measured once, for the record: the target applies to the first);
- confluent-kafka producing the very records the gateway would produce, already encoded,
  with the same producer settings (the ceiling for the gateway: target ratio >= 0.5);
- a seed-style producer: kafka-python's KafkaProducer with ``json.dumps`` per message,
  given the readings as dicts.

Each runs in its own child process (so their memory is their own), the first two
interleaved twice (best of each is kept); figures are recorded
with tests.bench.results.record, including the gateway process's peak RSS and CPU time per
reading (all its threads: steadier than rates on a shared machine) beside the
confluent-kafka producer process's.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from sensorpipe_edge.config import from_document
from sensorpipe_edge.gateway import build
from sensorpipe_edge.protocol import parse
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.simulation import Fleet
from sensorpipe_edge.sink import PRODUCER_DEFAULTS
from tests.bench.results import record
from tests.unit.edge.documents import pipeline_document

DEVICES = 1000
TICKS = 40  # 1000 devices x 40 ticks x 3 streams = 120,000 readings
BATCH = 1000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _document(bootstrap: str, pipeline: str) -> dict[str, Any]:
    return pipeline_document(pipeline, bootstrap, {"type": "serial", "serial": {"device": "-"}})


def _acked(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with a source whose lines carry acks (MQTT; never connected here)."""
    mqtt = {"type": "mqtt", "mqtt": {"url": "mqtt://127.0.0.1:9"}}
    return {**doc, "gateway": {**doc["gateway"], "source": mqtt}}


def _acknowledged() -> None:
    """The ack of a line in the acked run: a call per record, as the sources make."""


def _measured(count: int, started: float, cpu_started: float) -> tuple[float, float]:
    """(readings per second, CPU µs per reading of all the process's threads) since the
    two starting points: the CPU figure is the steadier one on a shared machine."""
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return count / elapsed, cpu / count * 1e6


def run_gateway(
    lines: list[bytes], doc: dict[str, Any], spool: Path, acked: bool
) -> tuple[float, float]:
    """Readings per second through the whole gateway path, until Kafka acknowledged all."""
    config = from_document(_acked(doc) if acked else doc, {"SENSORPIPE_SPOOL_DIR": str(spool)})
    gateway = build(config, env={}).gateway
    assert gateway.sink.report_each == acked
    items = [(line, _acknowledged if acked else None) for line in lines]
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(items), BATCH):
        gateway.handle(items[i : i + BATCH], "bench")
        gateway.sink.poll(0)
    gateway.sink.close(timeout=120)
    measured = _measured(len(lines), started, cpu)
    assert gateway.stats.published == len(lines), gateway.stats
    return measured


def encoded_records(lines: list[bytes], doc: dict[str, Any]) -> list[tuple[str, bytes, bytes]]:
    builder = RecordBuilder(from_document(doc, {}), compile_validator())
    now = int(time.time() * 1000)
    return [builder.reading(parse(line), now) for line in lines]


def run_confluent(lines: list[bytes], doc: dict[str, Any]) -> tuple[float, float]:
    """Readings per second of a bare confluent-kafka producer given the encoded records."""
    records = encoded_records(lines, doc)
    producer = Producer(
        {**PRODUCER_DEFAULTS, "bootstrap.servers": doc["kafka"]["bootstrapServers"]}
    )
    started, cpu = time.perf_counter(), time.process_time()
    for i, (topic, key, value) in enumerate(records):
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        if i % BATCH == 0:
            producer.poll(0)
    left = producer.flush(120)
    measured = _measured(len(records), started, cpu)
    assert left == 0
    return measured


def run_seed_style(lines: list[bytes], doc: dict[str, Any]) -> tuple[float, float]:
    """Readings per second the way the seeds produce: kafka-python, json.dumps per send."""
    from kafka import KafkaProducer

    # A quarter of the lines is plenty for a rate, and it is slow enough to matter.
    sample = lines[: len(lines) // 4]
    readings = [(t, k.decode(), json.loads(v)) for t, k, v in encoded_records(sample, doc)]
    producer = KafkaProducer(
        bootstrap_servers=doc["kafka"]["bootstrapServers"],
        value_serializer=lambda v: json.dumps(v).encode("utf-8"),
        key_serializer=lambda k: k.encode("utf-8"),
        acks="all",
        linger_ms=20,
    )
    started, cpu = time.perf_counter(), time.process_time()
    for topic, key, value in readings:
        producer.send(topic, key=key, value=value)
    producer.flush(120)
    measured = _measured(len(readings), started, cpu)
    producer.close()
    return measured


def child(mode: str, data: Path, doc_path: Path) -> None:
    """One measurement in this (fresh) process; prints {"rate", "cpu_us", "rss_mb"}."""
    lines: list[bytes] = pickle.loads(data.read_bytes())
    doc = json.loads(doc_path.read_text())
    if mode in ("gateway", "gateway-acked"):
        with tempfile.TemporaryDirectory() as spool:
            rate, cpu_us = run_gateway(lines, doc, Path(spool), acked=mode == "gateway-acked")
    elif mode == "confluent":
        rate, cpu_us = run_confluent(lines, doc)
    else:
        rate, cpu_us = run_seed_style(lines, doc)
    print(json.dumps({"rate": rate, "cpu_us": cpu_us, "rss_mb": _peak_rss_mb()}))


def measure(mode: str, data: Path, doc_path: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.bench_gateway",
            "child",
            mode,
            str(data),
            str(doc_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-4000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{mode:>13}: {result['rate']:>10,.0f} readings/s, {result['cpu_us']:5.1f} CPU µs"
        f" a reading, peak RSS {result['rss_mb']:.0f} MB"
    )
    return result


def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    if not bootstrap:
        raise SystemExit('KAFKA_BOOTSTRAP is not set: eval "$(hack/stack.sh env)" first')
    pipeline = f"bench-gw-{int(time.time())}"
    doc = _document(bootstrap, pipeline)
    topics = [*doc["topics"]["streams"].values(), doc["topics"]["deadLetter"]]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, 6, 1) for t in topics]).values():
        f.result(30)
    fleet = Fleet(DEVICES, 1000, seed=1)
    t0 = int(time.time()) - TICKS
    lines = [line for t in range(t0, t0 + TICKS) for _, _, line in fleet.readings(t)]
    with tempfile.TemporaryDirectory() as tmp:
        data, doc_path = Path(tmp) / "lines.pickle", Path(tmp) / "pipeline.json"
        data.write_bytes(pickle.dumps(lines))
        doc_path.write_text(json.dumps(doc))
        # Interleaved, best of two: the machine is shared, so a single run of either side
        # can land in someone else's busy second; the seed-style one is slow enough alone.
        rounds = [(measure("confluent", data, doc_path), measure("gateway", data, doc_path))]
        rounds.append((measure("confluent", data, doc_path), measure("gateway", data, doc_path)))
        confluent = max((r[0] for r in rounds), key=lambda r: r["rate"])
        gateway = max((r[1] for r in rounds), key=lambda r: r["rate"])
        acked = measure("gateway-acked", data, doc_path)
        seed = measure("seed", data, doc_path)
    record(
        "edge gateway throughput (parse+validate+encode+produce)",
        gateway["rate"],
        "readings/s",
        "confluent-kafka producing the same pre-encoded records",
        confluent["rate"],
        higher_is_better=True,
    )
    record(
        "edge gateway throughput with per-record acks (mqtt, simulated sources)",
        acked["rate"],
        "readings/s",
        "confluent-kafka producing the same pre-encoded records",
        confluent["rate"],
        higher_is_better=True,
    )
    record(
        "edge gateway throughput vs seed-style producer",
        gateway["rate"],
        "readings/s",
        "kafka-python + json.dumps per message (the seeds' producer)",
        seed["rate"],
        higher_is_better=True,
    )
    record(
        "edge gateway CPU time per reading (all threads)",
        min(r[1]["cpu_us"] for r in rounds),
        "µs",
        "confluent-kafka producing the same pre-encoded records",
        min(r[0]["cpu_us"] for r in rounds),
        higher_is_better=False,
    )
    record(
        "edge gateway peak RSS at full rate",
        gateway["rss_mb"],
        "MB",
        "confluent-kafka producer process on the same records",
        confluent["rss_mb"],
        higher_is_better=False,
    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
