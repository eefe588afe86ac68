"""The seeds' Spark jobs, written as the seeds wrote them: the baselines of bench_spark.

Each reads Kafka on its own with a fixed `from_json` schema and does one output:

- seed 000: readings appended to a Delta table;
- seed 001: a windowed `groupBy` with a watermark, upserted into PostgreSQL row by row;
- seed 002: readings above 70 °C filtered into a Kafka topic (the bare alert job);

and the single plain job: `from_json` and the windowed `groupBy`, with no sink work.
"""

from __future__ import annotations

import os

import psycopg
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.query import StreamingQuery
from pyspark.sql.streaming.readwriter import DataStreamWriter

from sensorpipe_spark import config, kafka_io

HOT = 70.0
SEED_SCHEMA = T.StructType(
    [
        T.StructField("device_id", T.StringType()),
        T.StructField("event_time", T.LongType()),
        T.StructField(
            "values",
            T.StructType(
                [
                    T.StructField("temperature", T.DoubleType()),
                    T.StructField("humidity", T.DoubleType()),
                ]
            ),
        ),
    ]
)


def _source(spark: SparkSession, cfg: config.JobConfig, starting: str) -> DataFrame:
    raw = (
        spark.readStream.format("kafka")
        .options(**kafka_io.client_options(cfg))
        .option("subscribe", cfg.streams[0].topic)
        .option("startingOffsets", starting)
        .load()
    )
    return raw.select(F.from_json(F.col("value").cast("string"), SEED_SCHEMA).alias("r")).select(
        "r.*"
    )


def _windowed(parsed: DataFrame, cfg: config.JobConfig) -> DataFrame:
    ts = parsed.withColumn("event_ts", F.timestamp_millis("event_time")).withWatermark(
        "event_ts", f"{int(cfg.watermark)} seconds"
    )
    return ts.groupBy(F.window("event_ts", f"{int(cfg.window)} seconds"), "device_id").agg(
        F.count("*").alias("n"),
        F.min("values.temperature").alias("t_min"),
        F.max("values.temperature").alias("t_max"),
        F.avg("values.temperature").alias("t_avg"),
    )


def _trigger(writer: DataStreamWriter, trigger_s: float | None) -> DataStreamWriter:
    if trigger_s is None:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=f"{int(trigger_s * 1000)} milliseconds")


def lake_append(spark: SparkSession, cfg: config.JobConfig, path: str, ck: str) -> StreamingQuery:
    """Seed 000: parse and append to Delta."""
    writer = (
        _source(spark, cfg, "earliest")
        .writeStream.format("delta")
        .option("checkpointLocation", ck)
        .outputMode("append")
    )
    return _trigger(writer, None).start(path)


PG_TABLE_SQL = """CREATE TABLE IF NOT EXISTS {t} (
  window_start timestamptz, window_end timestamptz, device_id text,
  n bigint, t_min double precision, t_max double precision, t_avg double precision,
  PRIMARY KEY (window_start, window_end, device_id))"""
PG_UPSERT_SQL = (
    "INSERT INTO {t} VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT "
    "(window_start, window_end, device_id) DO UPDATE SET n = EXCLUDED.n, "
    "t_min = EXCLUDED.t_min, t_max = EXCLUDED.t_max, t_avg = EXCLUDED.t_avg"
)


def pg_upsert(spark: SparkSession, cfg: config.JobConfig, table: str, ck: str) -> StreamingQuery:
    """Seed 001: windowed aggregates upserted into PostgreSQL, one statement per row."""
    dsn = os.environ["PG_DSN"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(PG_TABLE_SQL.format(t=table))

    def upsert(batch: DataFrame, _batch_id: int) -> None:
        rows = [
            (r.window.start, r.window.end, r.device_id, r.n, r.t_min, r.t_max, r.t_avg)
            for r in batch.collect()
        ]
        if rows:
            with psycopg.connect(dsn) as conn, conn.cursor() as cur:
                cur.executemany(PG_UPSERT_SQL.format(t=table), rows)

    writer = (
        _windowed(_source(spark, cfg, "earliest"), cfg)
        .writeStream.outputMode("update")
        .option("checkpointLocation", ck)
        .foreachBatch(upsert)
    )
    return _trigger(writer, None).start()


def hot_filter(
    spark: SparkSession,
    cfg: config.JobConfig,
    topic: str,
    ck: str,
    trigger_s: float | None = None,
    starting: str = "earliest",
) -> StreamingQuery:
    """Seed 002: readings above 70 °C published to ``topic``, the bare alert job."""
    hot = (
        _source(spark, cfg, starting)
        .filter(F.col("values.temperature") > HOT)
        .select(F.col("device_id").alias("key"), F.to_json(F.struct("*")).alias("value"))
    )
    writer = (
        hot.writeStream.format("kafka")
        .options(**kafka_io.client_options(cfg))
        .option("topic", topic)
        .option("checkpointLocation", ck)
    )
    return _trigger(writer, trigger_s).start()


def plain(spark: SparkSession, cfg: config.JobConfig, ck: str) -> StreamingQuery:
    """The single plain job: `from_json` and the windowed `groupBy`, output discarded."""
    writer = (
        _windowed(_source(spark, cfg, "earliest"), cfg)
        .writeStream.format("noop")
        .outputMode("update")
        .option("checkpointLocation", ck)
    )
    return _trigger(writer, None).start()
