"""The streaming job: three queries, each with its own checkpoint.

1. `ingest`: Kafka (every stream topic) → parse and validate → rejects to the dead-letter
   topic, valid readings into the lake exactly once per (stream, device, boot, seq):
   appended to Delta once per batch (:mod:`lake`), or anti-joined and committed by batch id
   into Parquet (:mod:`parquet_lake`); a reading reusing an identity with other values goes
   to the dead-letter topic too (:mod:`duplicates`);
2. `aggregates`: the lake's readings as a stream → windowed aggregates with a
   watermark → lake upsert, PostgreSQL upsert, aggregates topic;
3. `alerts`: Kafka → parse and validate → per-device rule state (which also drops a
   reading delivered twice) → alerts topic.

Chaining 2 behind the lake means it only ever sees deduplicated, valid readings; 3 reads
Kafka itself so that an alert does not wait for the lake commit (:mod:`alerting`).
In `available_now` mode each query drains what is there and stops, one after the other,
which is what tests, catch-up runs and benchmarks want; otherwise all three run together
on the spec's trigger interval, each in its own fair-scheduler pool so that one query's
long batch does not hold up another's tasks, until one fails or the process is stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery
from pyspark.sql.streaming.readwriter import DataStreamWriter

from sensorpipe_spark import (
    aggregates,
    alerting,
    deadletter,
    duplicates,
    kafka_io,
    lake,
    parquet_lake,
    postgres,
    validate,
)
from sensorpipe_spark.config import JobConfig
from sensorpipe_spark.schema import ReadingSchema

log = logging.getLogger(__name__)
QUERIES = ("ingest", "aggregates", "alerts")
KAFKA_COLUMNS = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)


def query_name(cfg: JobConfig, name: str) -> str:
    """The name Spark reports a query by (progress events, the UI): unique per pipeline."""
    return f"{cfg.pipeline}-{name}"


def _ms_to_utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


class StreamingJob:
    """Builds, starts and drains the three queries of one pipeline."""

    def __init__(self, spark: SparkSession, cfg: JobConfig, schema: ReadingSchema) -> None:
        self.spark = spark
        self.cfg = cfg
        self.schema = schema

    # ------------------------------------------------------------------ set-up

    def _validated(self, records: DataFrame) -> DataFrame:
        return validate.parse_and_validate(records, self.cfg, self.schema)

    @property
    def _parquet(self) -> bool:
        return self.cfg.lake_format == "parquet"

    def _empty_readings(self) -> DataFrame:
        return lake.lake_rows(self._validated(self.spark.createDataFrame([], KAFKA_COLUMNS)))

    def ensure_sinks(self) -> None:
        """Create the lake tables and the PostgreSQL table before any query starts."""
        readings = self._empty_readings()
        aggs = aggregates.lake_rows(aggregates.windowed(readings, self.cfg))
        if self._parquet:
            parquet_lake.ensure_table(self.spark, self.cfg.readings_path)
            parquet_lake.ensure_table(self.spark, self.cfg.aggregates_path)
        else:
            lake.ensure_table(
                self.spark, self.cfg.readings_path, readings.schema, lake.READING_PARTITIONS
            )
            lake.ensure_table(
                self.spark, self.cfg.aggregates_path, aggs.schema, lake.AGGREGATE_PARTITIONS
            )
        if self.cfg.postgres is not None:
            postgres.ensure_table(self._pg_dsn(), self.cfg.postgres.table)

    def _pg_dsn(self) -> str:
        assert self.cfg.postgres is not None
        dsn = os.environ.get(self.cfg.postgres.dsn_env)
        if not dsn:
            raise RuntimeError(
                f"PostgreSQL sink configured but ${self.cfg.postgres.dsn_env} is not set"
            )
        return dsn

    # ------------------------------------------------------------------ sinks

    def _ingest_batch(self, batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            rejects = batch.filter(F.col("reason").isNotNull())
            kafka_io.write_json(
                deadletter.records(rejects, self.cfg),
                self.cfg,
                self.cfg.dead_letter_topic,
                F.col("device_id"),
            )
            valid = lake.lake_rows(batch.filter(F.col("reason").isNull()), *duplicates.CARRIED)
            insert = parquet_lake.insert_readings if self._parquet else lake.append_readings
            insert(self.spark, self.cfg.readings_path, valid, batch_id, self._refuse)
        finally:
            batch.unpersist()
        log.info("ingest batch %d done", batch_id)

    def _refuse(self, conflicts: DataFrame) -> None:
        """Dead-letter the conflicting duplicates of an ingest batch, and count them."""
        count = conflicts.count()
        if not count:
            return
        kafka_io.write_json(
            deadletter.records(conflicts, self.cfg),
            self.cfg,
            self.cfg.dead_letter_topic,
            F.col("device_id"),
        )
        log.warning("ingest: %d conflicting duplicates sent to the dead-letter topic", count)

    def _aggregates_batch(self, batch: DataFrame, batch_id: int) -> None:
        batch.persist()
        try:
            if batch.isEmpty():  # a batch that only moved the watermark: nothing to upsert
                return
            table = aggregates.lake_rows(batch)
            if self._parquet:
                parquet_lake.upsert_aggregates(
                    self.spark, self.cfg.aggregates_path, table, batch_id
                )
            else:
                lake.upsert_aggregates(self.spark, self.cfg.aggregates_path, table)
            out = aggregates.topic_rows(batch)
            if self.cfg.postgres is not None:
                rows = [
                    tuple(
                        _ms_to_utc(r[c]) if c in ("window_start", "window_end") else r[c]
                        for c in postgres.COLUMNS
                    )
                    for r in out.collect()
                ]
                postgres.upsert(self._pg_dsn(), self.cfg.postgres.table, rows)
            if self.cfg.aggregates_topic:
                kafka_io.write_json(out, self.cfg, self.cfg.aggregates_topic, F.col("device_id"))
        finally:
            batch.unpersist()
        log.info("aggregates batch %d done", batch_id)

    def _alerts_batch(self, batch: DataFrame, batch_id: int) -> None:
        kafka_io.write_json(batch, self.cfg, self.cfg.alerts_topic, F.col("device_id"))
        log.info("alerts batch %d done", batch_id)

    # ------------------------------------------------------------------ queries

    def _lake_stream(self) -> DataFrame:
        if self._parquet:
            # a file stream reads each file once, by name: a batch's re-run renames files
            # with the same rows over the same names, which it does not read again
            schema = self._empty_readings().schema
            return parquet_lake.readings_stream(self.spark, self.cfg.readings_path, schema)
        return self.spark.readStream.format("delta").load(self.cfg.readings_path)

    def _kafka_stream(self) -> DataFrame:
        records = (
            self.spark.readStream.format("kafka")
            .options(**kafka_io.source_options(self.cfg, self.cfg.max_offsets_per_trigger))
            .load()
        )
        return self._validated(records)

    def _writer(self, name: str) -> DataStreamWriter:
        if name == "ingest":
            return self._kafka_stream().writeStream.foreachBatch(self._ingest_batch)
        if name == "aggregates":
            aggs = aggregates.windowed(self._lake_stream(), self.cfg)
            return aggs.writeStream.outputMode("update").foreachBatch(self._aggregates_batch)
        valid = self._kafka_stream().filter(F.col("reason").isNull())
        found = alerting.alerts(valid, self.cfg)
        return found.writeStream.outputMode("append").foreachBatch(self._alerts_batch)

    def start(
        self, name: str, available_now: bool, trigger_seconds: float | None = None
    ) -> StreamingQuery:
        """Start the query called ``name`` with its own checkpoint."""
        writer = self._writer(name).queryName(query_name(self.cfg, name))
        writer = writer.option("checkpointLocation", self.cfg.checkpoint(name))
        if available_now:
            writer = writer.trigger(availableNow=True)
        else:
            interval = trigger_seconds if trigger_seconds is not None else self.cfg.trigger_interval
            writer = writer.trigger(processingTime=f"{int(interval * 1000)} milliseconds")
        # the query's thread inherits this thread's local properties, the pool among them
        self.spark.sparkContext.setLocalProperty("spark.scheduler.pool", name)
        try:
            return writer.start()
        finally:
            self.spark.sparkContext.setLocalProperty("spark.scheduler.pool", None)  # type: ignore[arg-type]

    def drain(self, queries: tuple[str, ...] = QUERIES) -> None:
        """Run each query until it has processed everything available, in pipeline order."""
        for name in queries:
            self.start(name, available_now=True).awaitTermination()

    def run_forever(self, trigger_seconds: float | None = None) -> None:
        """Run all queries until one fails (re-raised) or the session is stopped."""
        started = [
            self.start(name, available_now=False, trigger_seconds=trigger_seconds)
            for name in QUERIES
        ]
        self.spark.streams.awaitAnyTermination()
        for q in started:
            if q.exception() is not None:
                raise RuntimeError(f"query {q.name} failed: {q.exception()}")
