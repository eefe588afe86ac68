"""Issue 18 on real Spark, Kafka and Delta/Parquet: readings of a rebooted device, and readings
that reuse an identity with other values.

Symptoms reproduced, both formerly silent:
1. a device that restarts its counter (seq 0, 1, … again after a power cycle) lost every
   post-reboot reading: the lake's insert-only dedup by (stream, device, seq) and the alert
   state dropped them. The gateway now stamps them with the next boot epoch; here they must
   reach the lake, the aggregates and the alerts;
2. a reading with the identity of another but different values was dropped in favour of
   whichever arrived first. It must now be in the dead-letter topic as
   `conflicting_duplicate`, while an identical copy is still dropped quietly.

A third test runs the job on a Delta lake written before `boot` existed.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sensorpipe_spark import aggregates, config, kafka_io, lake, schema, streaming, validate
from sensorpipe_spark.duplicates import REASON
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration

MINUTE = 60_000


def climate(
    device: str, seq: int, minute: int, temp: float, boot: int | None = None
) -> dict[str, Any]:
    """A climate reading at ``minute`` of the test hour, with a boot epoch if given."""
    values = {"temperature": temp, "humidity": 40.0}
    r = h.reading(device, "climate", seq, h.T0 + minute * MINUTE, values)
    if boot is not None:
        r["boot"] = boot
    return r


def job_for(
    spark: SparkSession, bootstrap: str, base: Path, fmt: str
) -> tuple[config.JobConfig, streaming.StreamingJob]:
    name = f"rbt-{secrets.token_hex(3)}"
    doc = h.pipeline_doc(name, bootstrap, str(base / "lake"), str(base / "ck"), None, fmt)
    h.create_topics(bootstrap, h.topics_of(doc))
    cfg = config.from_document(doc)
    return cfg, streaming.StreamingJob(spark, cfg, schema.load())


def identities(spark: SparkSession, cfg: config.JobConfig) -> dict[tuple[str, int, int], Any]:
    rows = spark.read.format(cfg.lake_format).load(cfg.readings_path).collect()
    out = {(r.device_id, r.boot or 0, r.seq): r for r in rows}
    assert len(out) == len(rows), "an identity is in the lake twice"
    return out


def aggregate_counts(spark: SparkSession, cfg: config.JobConfig, device: str) -> int:
    """Readings of ``device`` the lake's temperature aggregates count, over every window."""
    table = spark.read.format(cfg.lake_format).load(cfg.aggregates_path)
    rows = table.where((table.device_id == device) & (table.field == "temperature")).collect()
    return sum(r["count"] for r in rows)


@pytest.fixture(scope="module", params=["delta", "parquet"])
def rebooted(
    request: pytest.FixtureRequest,
    spark: SparkSession,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    cfg, job = job_for(spark, kafka_bootstrap, tmp_path_factory.mktemp("rbt"), request.param)
    job.ensure_sinks()
    # before the reboot: ten normal readings; and a device whose numbers get reused below
    first = [climate("uno", s, s, 20.0 + s * 0.1) for s in range(10)]
    first += [climate("rep", s, s, 21.0) for s in range(5)]
    h.produce_readings(kafka_bootstrap, cfg.pipeline, first)
    job.drain()
    # after: the sketch counts from 0 again (epoch 1, as the gateway stamps it), one reading
    # hot; a copy of a pre-reboot reading as it was (epoch 0, identical); and for "rep" a
    # conflicting copy of one held reading, an identical copy of another, and two readings of
    # one new identity with different values in one batch (the first sent is kept)
    second = [climate("uno", s, 10 + s, 75.0 if s == 5 else 22.0, boot=1) for s in range(10)]
    conflict_held = climate("rep", 2, 2, 29.0)
    twin_first = climate("rep", 7, 7, 23.0)
    twin_other = {**climate("rep", 7, 7, 24.0), "received_at": twin_first["received_at"] + 1}
    replays = [first[4], first[12]]
    h.produce_readings(
        kafka_bootstrap, cfg.pipeline, [*second, *replays, conflict_held, twin_first, twin_other]
    )
    job.drain()
    return {
        "cfg": cfg,
        "kept": [*first, *second, twin_first],
        "conflicts": [conflict_held, twin_other],
        "hot_minute": 15,
    }


def test_post_reboot_readings_reach_the_lake_with_their_own_identity(rebooted, spark):
    got = identities(spark, rebooted["cfg"])
    want = {(r["device_id"], r.get("boot", 0), r["seq"]) for r in rebooted["kept"]}
    assert set(got) == want
    assert {s for d, b, s in got if d == "uno" and b == 1} == set(range(10))
    assert dict(got[("rep", 0, 2)]["values"])["temperature"] == 21.0  # the first one stays
    assert dict(got[("rep", 0, 7)]["values"])["temperature"] == 23.0


def test_post_reboot_readings_reach_the_aggregates(rebooted, spark):
    assert aggregate_counts(spark, rebooted["cfg"], "uno") == 20


def test_post_reboot_readings_reach_the_alerts(rebooted, kafka_bootstrap):
    alerts = h.consume_json(kafka_bootstrap, rebooted["cfg"].alerts_topic)
    hot = [a for a in alerts if a["device_id"] == "uno" and a["kind"] == "threshold"]
    assert [a["event_time"] for a in hot] == [h.T0 + rebooted["hot_minute"] * MINUTE]


def test_a_conflicting_duplicate_is_dead_lettered_with_its_reason(rebooted, kafka_bootstrap):
    dead = h.consume_json(kafka_bootstrap, rebooted["cfg"].dead_letter_topic)
    assert sorted(json.loads(d["raw"])["values"]["temperature"] for d in dead) == [24.0, 29.0]
    for d in dead:
        assert (d["reason"], d["stage"], d["device_id"]) == (REASON, "spark", "rep")
        assert "already has values" in d["detail"]
        assert d["source"] == f"kafka:{rebooted['cfg'].pipeline}.climate"


def test_a_delta_lake_written_before_boot_epochs_keeps_working(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """A lake and aggregates checkpoint from before `boot`: the job adds the column at start,
    old rows count as epoch 0 (a copy of one is still a duplicate), and the aggregates
    stream reads on across the schema change."""
    cfg, job = job_for(spark, kafka_bootstrap, tmp_path, "delta")
    old = [climate("uno", s, s, 20.0) for s in range(10)]
    h.produce_readings(kafka_bootstrap, cfg.pipeline, old)
    records = spark.read.format("kafka").options(**kafka_io.source_options(cfg)).load()
    rows = lake.lake_rows(validate.parse_and_validate(records, cfg, job.schema)).drop("boot")
    rows.write.format("delta").partitionBy(*lake.READING_PARTITIONS).save(cfg.readings_path)
    empty = job._empty_readings()
    lake.ensure_table(
        spark,
        cfg.aggregates_path,
        aggregates.lake_rows(aggregates.windowed(empty, cfg)).schema,
        lake.AGGREGATE_PARTITIONS,
    )
    job.drain(("aggregates",))  # its checkpoint now stands before the schema change
    assert aggregate_counts(spark, cfg, "uno") == 10

    job.ensure_sinks()
    assert "boot" in spark.read.format("delta").load(cfg.readings_path).columns
    rebooted = [climate("uno", s, 10 + s, 21.0, boot=1) for s in range(5)]
    h.produce_readings(kafka_bootstrap, cfg.pipeline, [*rebooted, old[3]])
    job.drain(("ingest", "aggregates"))
    got = identities(spark, cfg)
    assert set(got) == {("uno", 0, s) for s in range(10)} | {("uno", 1, s) for s in range(5)}
    assert got[("uno", 0, 3)].boot is None  # an old row, read as epoch 0
    assert aggregate_counts(spark, cfg, "uno") == 15
    assert h.consume_json(kafka_bootstrap, cfg.dead_letter_topic) == []
