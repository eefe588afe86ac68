"""Idempotent writes to the Delta lake: readings exactly once, aggregates as upserts.

A micro-batch that is re-run after a crash, or a gateway that re-sends what it spooled,
delivers the same readings again. Readings are appended, never MERGEd: the batch is
deduplicated on the reading identity (stream, device, boot epoch, sequence number) and
compared with the rows of the partitions it touches (:mod:`duplicates`), so a reading
delivered again in a later batch adds nothing, and one that reuses an identity with other
values is handed back to be dead-lettered; the append itself carries Delta's idempotent-write pair
(`txnAppId` = the streaming query's id, `txnVersion` = the batch id), so a re-run of a
batch whose append already committed is skipped by Delta instead of read, joined and
rewritten. Aggregates are MERGEd on their window key so a re-run rewrites the same values.
Each write names the partitions it touches as literals, so Delta only reads those.
A table written before a column was added to the reading (``boot``) gets that column at
start (an additive schema change, :func:`ensure_table`); its old rows read as epoch 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sensorpipe_spark import duplicates

READING_KEY = duplicates.READING_KEY  # (stream, device_id, boot, seq)
AGGREGATE_KEY = ("pipeline", "device_id", "stream", "field", "window_start", "window_end")
READING_PARTITIONS = ("stream", "date")
AGGREGATE_PARTITIONS = ("date",)
# Spark sets this local property on the thread that runs a streaming query's batches; the id
# is kept in the checkpoint, so it is the same for every run of one query.
QUERY_ID_PROPERTY = "sql.streaming.queryId"


def query_id(spark: SparkSession) -> str:
    """The id of the streaming query whose batch runs on this thread."""
    query = spark.sparkContext.getLocalProperty(QUERY_ID_PROPERTY)
    if not query:
        raise RuntimeError("no streaming query id on this thread: call from foreachBatch")
    return query


def lake_rows(valid: DataFrame, *carried: str) -> DataFrame:
    """Valid validated readings in the lake's shape: event time as a timestamp and a date,
    the boot epoch 0 where the reading has none; plus the ``carried`` columns as they are."""
    event_ts = F.timestamp_millis(F.col("event_time"))
    return valid.select(
        "stream",
        F.to_date(event_ts).alias("date"),
        "device_id",
        F.coalesce(F.col("boot"), F.lit(0).cast("long")).alias("boot"),
        "seq",
        "event_time",
        event_ts.alias("event_ts"),
        "received_at",
        "device_uptime_ms",
        "gateway",
        "values",
        F.col("topic").alias("kafka_topic"),
        "kafka_ts",
        F.current_timestamp().alias("ingested_at"),
        *carried,
    )


def held_readings(table: DataFrame) -> DataFrame:
    """The identities and values of rows read from the readings table; rows written before
    the table had ``boot`` are in epoch 0."""
    return table.select(
        "stream",
        "device_id",
        F.coalesce(F.col("boot"), F.lit(0).cast("long")).alias("boot"),
        "seq",
        "values",
    )


def ensure_table(
    spark: SparkSession, path: str, schema: T.StructType, partitions: Sequence[str]
) -> None:
    """Create the Delta table at ``path`` if it is not there yet, or add the columns of
    ``schema`` it lacks (a lake written by an earlier version).

    Streaming readers of the lake need the table before the first reading arrives, and
    creating it once up front avoids two writers racing to create it.
    """
    if DeltaTable.isDeltaTable(spark, path):
        have = set(DeltaTable.forPath(spark, path).toDF().columns)
        missing = [f for f in schema.fields if f.name not in have]
        if missing:
            added = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
            spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({added})")
        return
    (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .addColumns(schema)
        .partitionedBy(*partitions)
        .execute()
    )


def in_partitions(values: Sequence[Any], columns: Sequence[str], prefix: str = "") -> Column:
    """`c1 = v1 AND c2 = v2 OR ...` over ``values`` (rows of the partition ``columns``), so
    that a write reads only the partitions it touches; ``prefix`` names the table (`t.`)."""
    out = F.lit(False)
    for row in values:
        term = F.lit(True)
        for c in columns:
            term = term & (F.col(f"{prefix}{c}") == F.lit(row[c]))
        out = out | term
    return out


def _partition_filter(batch: DataFrame, alias: str, columns: Sequence[str]) -> Column:
    """:func:`in_partitions` over the partition values present in ``batch``."""
    return in_partitions(batch.select(*columns).distinct().collect(), columns, f"{alias}.")


def _on(key: Sequence[str]) -> Column:
    cond = F.col(f"t.{key[0]}") == F.col(f"s.{key[0]}")
    for c in key[1:]:
        cond = cond & (F.col(f"t.{c}") == F.col(f"s.{c}"))
    return cond


Refuse = Callable[[DataFrame], None]


def append_readings(
    spark: SparkSession, path: str, rows: DataFrame, batch_id: int, refuse: Refuse
) -> None:
    """Append the readings of ``rows`` (lake rows plus ``duplicates.CARRIED``) that the lake
    does not hold yet (by READING_KEY), once per batch of the calling streaming query; first
    hand ``refuse`` the conflicting duplicates (:func:`duplicates.conflicts`)."""
    touched = rows.select(*READING_PARTITIONS).distinct().collect()
    if not touched:
        return
    table = spark.read.format("delta").load(path)
    held = held_readings(table.where(in_partitions(touched, READING_PARTITIONS)))
    classified = duplicates.classify(rows, held).persist()
    try:
        refuse(duplicates.conflicts(classified))
        (
            duplicates.fresh(classified, rows)
            .write.format("delta")
            .mode("append")
            .option("txnAppId", query_id(spark))
            .option("txnVersion", batch_id)
            .save(path)
        )
    finally:
        classified.unpersist()


def upsert_aggregates(spark: SparkSession, path: str, rows: DataFrame) -> None:
    """Insert or overwrite the aggregates of ``rows`` by AGGREGATE_KEY."""
    cond = _partition_filter(rows, "t", AGGREGATE_PARTITIONS) & _on(AGGREGATE_KEY)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(rows.alias("s"), cond)
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
