"""Spark benchmark: the real streaming job against the seeds' jobs, drain time and alert latency.

Run with `python -m tests.bench.bench_spark` against the running stack (`hack/stack.sh up`).

- Throughput: N readings (BENCH_SPARK_READINGS, at least 200,000) are put on a climate topic
  once; then each side drains all of them with `availableNow`, from a fresh checkpoint and
  fresh outputs every run. Ours is the streaming job itself (`StreamingJob.drain`) with every
  sink on: dead letters, the Delta lake, aggregates into the lake, PostgreSQL and their
  topic, alerts. The baseline is the seeds' three jobs doing the same outputs as they wrote
  them, each reading Kafka on its own, run at the same time (:mod:`spark_seeds`: seed 000
  Delta append, seed 001 windowed groupBy upserted into PostgreSQL, seed 002 the > 70 filter
  into Kafka). A second ratio compares ours with the single plain `from_json` + windowed
  `groupBy` job. The sides run interleaved (ours, seeds, plain; the order rotating each
  round) for BENCH_SPARK_RUNS rounds (at least 3); the figure is each side's median, and the
  one-minute load average before every run is written beside it.
- Latency: from a hot reading produced to Kafka to its alert record (the broker's timestamp
  of the alert), with the job's three queries running on a 0.5 s trigger, against the seeds'
  bare filter job on the same trigger. Probes are independent: one device each (so each is
  that device's first hot reading), sent one at a time, each only after the previous one's
  alert arrived and a random pause, so no two probes share a batch and their phase against
  the trigger varies. Median and p90, the first probe of each side left out as warm-up.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from pyspark.sql import SparkSession

from sensorpipe_spark import config, schema, session, streaming
from tests.bench import spark_seeds as seeds
from tests.bench.results import record
from tests.conftest import parse_env
from tests.integration.spark import helpers as h

READINGS = max(int(os.environ.get("BENCH_SPARK_READINGS", "200000")), 1)
RUNS = max(int(os.environ.get("BENCH_SPARK_RUNS", "3")), 1)
PROBES = int(os.environ.get("BENCH_SPARK_PROBES", "15"))
TRIGGER_S = 0.5
PAUSE_S = (1.0, 3.0)  # between probes: longer than a trigger, random against its phase
DEVICES = 100


def _readings(n: int) -> list[dict[str, Any]]:
    """Readings of 100 devices, one a second each, one in 500 above the seeds' 70 °C."""
    return [
        h.reading(
            f"d{i % DEVICES}",
            "climate",
            i // DEVICES,
            h.T0 + (i // DEVICES) * 1000,
            {
                "temperature": 75.0 if i % 500 == 499 else 20.0 + (i % 13) * 0.1,
                "humidity": 50.0 + i % 7,
            },
        )
        for i in range(n)
    ]


class Rounds:
    """Fresh paths and table names per run, all on the one pipeline's topics."""

    def __init__(self, bootstrap: str, base: str, name: str) -> None:
        self.bootstrap, self.base, self.name = bootstrap, base, name
        self.n = 0

    def cfg(self, side: str) -> config.JobConfig:
        self.n += 1
        run = f"{self.base}/{side}-{self.n}"
        table = f"bench_{side}_{self.name.replace('-', '_')}_{self.n}"
        return config.from_document(
            h.pipeline_doc(self.name, self.bootstrap, f"{run}/lake", f"{run}/ck", table)
        )

    def ours(self, spark: SparkSession) -> float:
        job = streaming.StreamingJob(spark, self.cfg("ours"), schema.load())
        job.ensure_sinks()
        started = time.perf_counter()
        job.drain()
        return time.perf_counter() - started

    def seeds(self, spark: SparkSession) -> float:
        cfg = self.cfg("seeds")
        run = cfg.lake_path
        assert cfg.postgres is not None
        started = time.perf_counter()
        queries = [
            seeds.lake_append(spark, cfg, f"{run}/readings", f"{run}/ck/000"),
            seeds.pg_upsert(spark, cfg, cfg.postgres.table, f"{run}/ck/001"),
            seeds.hot_filter(spark, cfg, f"{self.name}.seed-alerts", f"{run}/ck/002"),
        ]
        for q in queries:
            q.awaitTermination()
        return time.perf_counter() - started

    def plain(self, spark: SparkSession) -> float:
        cfg = self.cfg("plain")
        started = time.perf_counter()
        seeds.plain(spark, cfg, f"{cfg.lake_path}/ck").awaitTermination()
        return time.perf_counter() - started


def throughput(spark: SparkSession, rounds: Rounds) -> dict[str, Any]:
    """Every side's drain seconds per run, interleaved, with the load before each run."""
    sides: dict[str, Callable[[SparkSession], float]] = {
        "ours": rounds.ours,
        "seeds": rounds.seeds,
        "plain": rounds.plain,
    }
    order = list(sides)
    rounds.plain(spark)  # warm-up: class loading, code generation, Delta and Kafka clients
    runs: dict[str, list[float]] = {s: [] for s in sides}
    load: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(RUNS):
        for side in order[r % 3 :] + order[: r % 3]:
            load[side].append(round(os.getloadavg()[0], 2))
            runs[side].append(round(sides[side](spark), 2))
            print(f"round {r}: {side} {runs[side][-1]} s (load {load[side][-1]})", flush=True)
    rate = {s: READINGS / statistics.median(t) for s, t in runs.items()}
    return {"rate": rate, "seconds": runs, "load_avg_1m": load}


def _await_alert(consumer: Consumer, device: str, deadline: float) -> int:
    while time.monotonic() < deadline:
        msg = consumer.poll(0.1)
        if msg is None or msg.error():
            continue
        if json.loads(msg.value()).get("device_id") == device:
            return int(msg.timestamp()[1])
    raise TimeoutError(f"no alert for {device}")


def latency(bootstrap: str, name: str, topic: str) -> list[float]:
    """Milliseconds from producing each probe to its alert, warm-up probe left out."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{secrets.token_hex(3)}",
            "auto.offset.reset": "latest",
        }
    )
    consumer.subscribe([topic])
    consumer.poll(2.0)  # join the group before the first probe
    waits = []
    try:
        for i in range(PROBES + 1):
            device = f"hot-{i}-{secrets.token_hex(2)}"
            now = int(time.time() * 1000)
            probe = h.reading(device, "climate", 0, now, {"temperature": 75.0, "humidity": 50.0})
            sent_at = int(time.time() * 1000)
            h.produce_readings(bootstrap, name, [probe])
            waits.append(float(_await_alert(consumer, device, time.monotonic() + 300) - sent_at))
            time.sleep(random.uniform(*PAUSE_S))
    finally:
        consumer.close()
    return waits[1:]


def _p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10)[-1] if len(xs) > 1 else xs[0]


def alert_latency(spark: SparkSession, bootstrap: str, base: str, name: str) -> dict[str, Any]:
    """Probe waits of the running job, then of the seeds' bare filter job."""
    doc = h.pipeline_doc(name, bootstrap, f"{base}/lat/lake", f"{base}/lat/ck", None)
    live = config.from_document(doc)
    job = streaming.StreamingJob(spark, live, schema.load())
    job.ensure_sinks()
    running = [
        job.start(q, available_now=False, trigger_seconds=TRIGGER_S) for q in streaming.QUERIES
    ]
    try:
        ours = latency(bootstrap, name, live.alerts_topic)
    finally:
        for q in running:
            q.stop()
    topic = f"{name}.seed-alerts"
    seed = seeds.hot_filter(spark, live, topic, f"{base}/lat/seed-ck", TRIGGER_S, "latest")
    try:
        bare = latency(bootstrap, name, topic)
    finally:
        seed.stop()
    return {"ours": ours, "seeds": bare}


def main() -> None:
    """Set up pipelines on the running stack, measure, record the figures."""
    root = Path(__file__).resolve().parents[2]
    stack_env = subprocess.run(
        ["bash", str(root / "hack" / "stack.sh"), "env"], capture_output=True, text=True, check=True
    )
    env = parse_env(stack_env.stdout)
    os.environ.update(env)
    bootstrap = env["KAFKA_BOOTSTRAP"]
    base = tempfile.mkdtemp(prefix="bench-spark-")
    tag = secrets.token_hex(3)
    spark = session.build("sensorpipe-bench", "local[2]")

    name = f"bench-t-{tag}"
    doc = h.pipeline_doc(name, bootstrap, base, base, None)
    h.create_topics(bootstrap, [*h.topics_of(doc), f"{name}.seed-alerts"])
    h.produce_readings(bootstrap, name, _readings(READINGS))
    t = throughput(spark, Rounds(bootstrap, base, name))
    method = {
        "readings": READINGS,
        "runs": RUNS,
        "seconds": t["seconds"],
        "load_avg_1m": t["load_avg_1m"],
        "cores": os.cpu_count(),
        "spark": spark.version,
    }
    rate = t["rate"]
    record(
        "spark drain readings/s: full job, every sink",
        rate["ours"],
        "readings/s",
        "seeds' jobs 000+001+002 doing the same outputs",
        rate["seeds"],
        True,
        method,
    )
    record(
        "spark drain readings/s: full job vs the single plain job",
        rate["ours"],
        "readings/s",
        "one from_json + windowed groupBy job, no sink",
        rate["plain"],
        True,
        method,
    )

    name = f"bench-l-{tag}"
    doc = h.pipeline_doc(name, bootstrap, base, base, None)
    h.create_topics(bootstrap, [*h.topics_of(doc), f"{name}.seed-alerts"])
    lat = alert_latency(spark, bootstrap, base, name)
    probes = {"probes": len(lat["ours"]), "waits_ms": lat, "load_avg_1m": os.getloadavg()[0]}
    for label, stat in (("median", statistics.median), ("p90", _p90)):
        record(
            f"spark reading-to-alert latency ({label})",
            stat(lat["ours"]),
            "ms",
            f"seeds' bare from_json + filter > 70 job, {TRIGGER_S}s trigger",
            stat(lat["seeds"]),
            False,
            probes,
        )
    spark.stop()
    print(json.dumps({"throughput": t, "latency": lat}, indent=2))


if __name__ == "__main__":
    main()
