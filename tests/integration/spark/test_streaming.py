"""The streaming job on real Spark, Kafka, Delta and PostgreSQL, with readings of known values.

One scenario runs for the whole module and each lake format, Delta and Parquet (the JVM and
the lake tables are the expensive part):

1. an hour of readings from six devices, a copy of some of them, and one record for every
   dead-letter reason; the job drains it;
2. the job is started again from its checkpoints with late readings (one inside the
   watermark, one beyond it), a replay of the whole first hour and more rejects.

The assertions compare the lake, the dead-letter topic, the Delta aggregates, the
PostgreSQL table and the aggregates topic with a plain-Python computation of the same data.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pyspark.sql import SparkSession

from sensorpipe_spark import config, report, schema, streaming
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration

MINUTE = 60_000
QUERIES = ("ingest", "aggregates")  # the alerts query has its own module
CLIMATE = ("c1", "c2", "c3")
DISTANCE = ("s1", "s2")
MOTION = ("m1",)


def values_for(stream: str, device: str, seq: int) -> dict[str, Any]:
    """Deterministic values that differ per device and per reading."""
    k = int(device[1:])
    if stream == "climate":
        return {"temperature": 18.0 + k + (seq % 7) * 0.5, "humidity": 40.0 + (seq * 3 % 11)}
    if stream == "distance":
        return {"distance": 100.0 + k * 10 + (seq * 13 % 50)}
    return {"motion": seq % 3 == 0}


def hour_of_readings() -> list[dict[str, Any]]:
    """One reading a minute from every device over the hour starting at T0."""
    out = []
    for stream, devices in (("climate", CLIMATE), ("distance", DISTANCE), ("motion", MOTION)):
        for device in devices:
            for seq in range(60):
                out.append(
                    h.reading(
                        device, stream, seq, h.T0 + seq * MINUTE, values_for(stream, device, seq)
                    )
                )
    return out


def rejects(name: str, tag: str) -> list[tuple[str, bytes, str]]:
    """(topic, value, expected reason) for every reason the Spark stage can give."""
    good = h.reading("r1", "climate", 900, h.T0, {"temperature": 20.0, "humidity": 50.0})

    def variant(**changes: Any) -> bytes:
        doc = {**good, "device_id": f"rej-{tag}-{len(changes)}-{next(iter(changes))}", **changes}
        return json.dumps(doc).encode()

    climate = f"{name}.climate"
    return [
        (climate, f"not json {tag}".encode(), "schema_violation"),
        (climate, variant(extra=tag), "schema_violation"),
        (climate, variant(seq=f"s{tag}"), "schema_violation"),
        (climate, json.dumps({**good, "device_id": f"bad id {tag}"}).encode(), "schema_violation"),
        (climate, variant(stream="distance", values={"distance": 50.0}), "unknown_stream"),
        (climate, variant(stream="pressure"), "unknown_stream"),
        (climate, variant(values={"temperature": 20.0}), "missing_field"),
        (
            climate,
            variant(values={"temperature": 20.0, "humidity": 1.0, "pressure": 3.0}),
            "unknown_field",
        ),
        (climate, variant(values={"temperature": "warm", "humidity": 1.0}), "wrong_type"),
        (f"{name}.motion", variant(stream="motion", values={"motion": 1}), "wrong_type"),
        (climate, variant(values={"temperature": float("nan"), "humidity": 1.0}), "sensor_error"),
        (climate, variant(values={"temperature": 95.0, "humidity": 1.0}), "out_of_range"),
        (f"{name}.distance", variant(stream="distance", values={"distance": 1.0}), "out_of_range"),
        (climate, b'{"v":1,"device_id":"bin-' + tag.encode() + b'","x":"\xff\xfe"}', "not_utf8"),
    ]


@dataclass
class Scenario:
    cfg: config.JobConfig
    sent_valid: list[dict[str, Any]]
    beyond_watermark: list[dict[str, Any]]
    sent_rejects: list[tuple[str, bytes, str]]
    snapshots: dict[str, Any] = field(default_factory=dict)


def lake_rows(spark: SparkSession, cfg: config.JobConfig) -> list[Any]:
    return spark.read.format(cfg.lake_format).load(cfg.readings_path).collect()


def lake_aggregates(spark: SparkSession, cfg: config.JobConfig) -> dict[h.AggKey, tuple[Any, ...]]:
    rows = (
        spark.read.format(cfg.lake_format)
        .load(cfg.aggregates_path)
        .selectExpr(
            "device_id",
            "stream",
            "field",
            "unix_millis(window_start) AS ws",
            "count",
            "min",
            "max",
            "mean",
            "stddev",
        )
    )
    return {
        (r.device_id, r.stream, r.field, r.ws): (r["count"], r.min, r.max, r.mean, r.stddev)
        for r in rows.collect()
    }


def topic_aggregates(bootstrap: str, topic: str) -> dict[h.AggKey, tuple[Any, ...]]:
    """The latest record per window key, as a compacted topic would keep it."""
    out = {}
    for r in h.consume_json(bootstrap, topic):
        key = (r["device_id"], r["stream"], r["field"], r["window_start"])
        out[key] = (r["count"], r["min"], r["max"], r["mean"], r["stddev"])
    return out


@pytest.fixture(scope="module", params=["delta", "parquet"])
def scenario(
    request: pytest.FixtureRequest,
    spark: SparkSession,
    kafka_bootstrap: str,
    pg_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Scenario:
    name = f"spk-{secrets.token_hex(3)}"
    base = tmp_path_factory.mktemp(name)
    doc = h.pipeline_doc(
        name,
        kafka_bootstrap,
        str(base / "lake"),
        str(base / "ck"),
        f"agg_{name.replace('-', '_')}",
        request.param,
    )
    h.create_topics(kafka_bootstrap, h.topics_of(doc))
    cfg = config.from_document(doc)
    job = streaming.StreamingJob(spark, cfg, schema.load())
    job.ensure_sinks()

    # 1. an hour of readings, some sent twice, and every kind of reject
    hot = h.reading(
        "c3", "climate", 500, h.T0 + 30 * MINUTE + 30_000, {"temperature": 75.0, "humidity": 40.0}
    )
    hour = [*hour_of_readings(), hot]
    first_rejects = rejects(name, "a")
    h.produce_readings(kafka_bootstrap, name, hour + hour[::17])
    h.produce(kafka_bootstrap, ((t, "r", v) for t, v, _ in first_rejects))
    job.drain(QUERIES)
    sc = Scenario(
        cfg=cfg, sent_valid=list(hour), beyond_watermark=[], sent_rejects=list(first_rejects)
    )
    sc.snapshots["phase1_lake"] = len(lake_rows(spark, cfg))

    # 2. restart: late readings inside and beyond the watermark, a replay, one more reject.
    # The watermark is now T0+59min - 10min = T0+49min: a reading in the window that ends at
    # T0+60min still counts; one in the window that ended at T0+15min may not.
    inside = h.reading(
        "c1", "climate", 1000, h.T0 + 55 * MINUTE + 30_000, {"temperature": 30.0, "humidity": 45.0}
    )
    beyond = h.reading(
        "c2", "climate", 2000, h.T0 + 10 * MINUTE + 15_000, {"temperature": 31.0, "humidity": 46.0}
    )
    on_time = [
        h.reading("s1", "distance", 60 + i, h.T0 + (60 + i) * MINUTE, {"distance": 200.0 + i})
        for i in range(3)
    ]
    second_rejects = rejects(name, "b")[-3:]
    h.produce_readings(kafka_bootstrap, name, [*on_time, inside, beyond, *hour])
    h.produce(kafka_bootstrap, ((t, "r", v) for t, v, _ in second_rejects))
    job.drain(QUERIES)
    sc.sent_valid += [*on_time, inside, beyond]
    sc.beyond_watermark.append(beyond)
    sc.sent_rejects += second_rejects
    return sc


def key(r: dict[str, Any] | Any) -> tuple[str, str, int]:
    return (r["stream"], r["device_id"], r["seq"])


def test_every_valid_reading_is_in_the_lake_exactly_once(
    scenario: Scenario, spark: SparkSession
) -> None:
    rows = lake_rows(spark, scenario.cfg)
    keys = [key(r) for r in rows]
    assert len(keys) == len(set(keys)), "a reading is in the lake twice"
    assert set(keys) == {key(r) for r in scenario.sent_valid}
    by_key = {key(r): r for r in rows}
    for sent in scenario.sent_valid:
        row = by_key[key(sent)]
        assert row.event_time == sent["event_time"]
        assert row.gateway == sent["gateway"]
        assert dict(row["values"]) == {k: float(v) for k, v in sent["values"].items()}
        assert str(row.date) == "2026-01-01"
    assert scenario.snapshots["phase1_lake"] == 6 * 60 + 1


def test_every_reject_is_in_the_dead_letter_topic_with_its_reason(
    scenario: Scenario, kafka_bootstrap: str
) -> None:
    dead = h.consume_json(kafka_bootstrap, scenario.cfg.dead_letter_topic)
    got = sorted((d["raw"], d["reason"]) for d in dead)
    want = sorted(
        (v.decode("utf-8", errors="backslashreplace"), reason)
        for _t, v, reason in scenario.sent_rejects
    )
    assert got == want
    for d in dead:
        assert d["stage"] == "spark"
        assert d["pipeline"] == scenario.cfg.pipeline
        assert d["source"].startswith(f"kafka:{scenario.cfg.pipeline}.")
        assert d["detail"]
        assert isinstance(d["received_at"], int)


def test_aggregates_equal_a_plain_python_computation(
    scenario: Scenario, spark: SparkSession, pg_dsn: str, kafka_bootstrap: str
) -> None:
    counted = [r for r in scenario.sent_valid if r not in scenario.beyond_watermark]
    want = h.oracle(counted)
    assert scenario.cfg.postgres is not None
    sinks = {
        "lake": lake_aggregates(spark, scenario.cfg),
        "postgres": h.pg_aggregates(pg_dsn, scenario.cfg.postgres.table),
        "topic": topic_aggregates(kafka_bootstrap, scenario.cfg.aggregates_topic or ""),
    }
    for sink, got in sinks.items():
        assert set(got) == set(want), sink
        wrong = {k: (got[k], want[k]) for k in want if not h.same(got[k], want[k])}
        assert not wrong, (sink, list(wrong.items())[:3])


def test_late_reading_inside_the_watermark_counts_and_beyond_it_does_not(
    scenario: Scenario, spark: SparkSession
) -> None:
    got = lake_aggregates(spark, scenario.cfg)
    window = 15 * MINUTE
    inside = got[("c1", "climate", "temperature", h.T0 + 3 * window)]
    assert inside[0] == 16
    assert inside[2] == 30.0
    beyond = got[("c2", "climate", "temperature", h.T0)]
    assert beyond[0] == 15
    assert beyond[2] < 31.0


def test_restart_with_a_full_replay_keeps_one_row_per_window(
    scenario: Scenario, spark: SparkSession, pg_dsn: str
) -> None:
    assert scenario.cfg.postgres is not None
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            f"SELECT count(*), count(DISTINCT (device_id, stream, field, window_start)) "
            f"FROM {scenario.cfg.postgres.table}"
        ).fetchone()
    assert row is not None
    assert row[0] == row[1] == len(h.oracle(scenario.sent_valid))
    lake = spark.read.format(scenario.cfg.lake_format).load(scenario.cfg.aggregates_path)
    assert (
        lake.count()
        == lake.select("device_id", "stream", "field", "window_start").distinct().count()
    )
    assert lake.count() == row[0]


def test_daily_report_from_the_lake(
    scenario: Scenario, spark: SparkSession, tmp_path: Path
) -> None:
    import csv
    import datetime as dt

    summary = report.run(spark, scenario.cfg, dt.date(2026, 1, 1), tmp_path)
    with (tmp_path / "device_averages.csv").open() as f:
        averages = {(r["device_id"], r["field"]): r for r in csv.DictReader(f)}
    by_device: dict[tuple[str, str], list[float]] = {}
    for r in scenario.sent_valid:
        for fld, v in r["values"].items():
            by_device.setdefault((r["device_id"], fld), []).append(float(v))
    assert set(averages) == set(by_device)
    for k, vals in by_device.items():
        assert int(averages[k]["count"]) == len(vals)
        assert math.isclose(float(averages[k]["mean"]), sum(vals) / len(vals), rel_tol=1e-9)
    with (tmp_path / "abnormal_readings.csv").open() as f:
        abnormal = list(csv.DictReader(f))
    assert [(r["device_id"], r["seq"], r["rule"], float(r["value"])) for r in abnormal] == [
        ("c3", "500", "hot", 75.0)
    ]
    assert summary["rows"]["daily_summary"] == 3
    for png in summary["plots"]:
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "hourly.parquet").is_dir()
