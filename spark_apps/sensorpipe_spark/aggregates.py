"""Windowed aggregates per device, stream and field, with a watermark.

The aggregation reads the lake's readings table as a stream rather than Kafka: the lake is
already deduplicated, so a reading that Kafka delivered twice is counted once without the
unbounded dedup state a Kafka-side aggregation would need. The watermark bounds the state
and decides which late readings still change a window; readings later than that stay in
the lake but no longer move an aggregate that may already have been acted on.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from sensorpipe_spark.config import JobConfig

COLUMNS = (
    "pipeline",
    "device_id",
    "stream",
    "field",
    "window_start",
    "window_end",
    "count",
    "min",
    "max",
    "mean",
    "stddev",
)


def windowed(readings: DataFrame, cfg: JobConfig) -> DataFrame:
    """Streaming lake readings → one row per (device, stream, field, tumbling window).

    `stddev` is the sample standard deviation, null for a window of one reading.
    """
    long = readings.select(
        "device_id", "stream", "event_ts", F.explode("values").alias("field", "value")
    ).withWatermark("event_ts", f"{int(cfg.watermark * 1000)} milliseconds")
    agg = long.groupBy(
        F.window("event_ts", f"{int(cfg.window * 1000)} milliseconds").alias("w"),
        "device_id",
        "stream",
        "field",
    ).agg(
        F.count("value").alias("count"),
        F.min("value").alias("min"),
        F.max("value").alias("max"),
        F.avg("value").alias("mean"),
        F.stddev_samp("value").alias("stddev"),
    )
    return agg.select(
        F.lit(cfg.pipeline).alias("pipeline"),
        "device_id",
        "stream",
        "field",
        F.col("w.start").alias("window_start"),
        F.col("w.end").alias("window_end"),
        *COLUMNS[6:],
    )


def lake_rows(aggs: DataFrame) -> DataFrame:
    """Aggregates in the lake table's shape, partitioned by the window's date."""
    return aggs.select(
        *COLUMNS, F.to_date("window_start").alias("date"), F.current_timestamp().alias("updated_at")
    )


def topic_rows(aggs: DataFrame) -> DataFrame:
    """Aggregates in the aggregates-topic record shape: window bounds as epoch milliseconds."""
    return aggs.select(
        *[
            (F.unix_millis(c).alias(c) if c in ("window_start", "window_end") else F.col(c))
            for c in COLUMNS
        ]
    )
