"""Rejected records as dead-letter records (docs/contracts.md §3, stage "spark").

The dead-letter topic is where a person looks to learn why a reading never reached the lake,
so each record carries the reason code, a readable detail and the input exactly as it came,
with undecodable bytes written as `\\xNN` like the gateway does.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sensorpipe_spark.config import JobConfig


def raw_text(value: bytes | None) -> str | None:
    """The record's bytes as text, invalid UTF-8 bytes as `\\xNN` escapes."""
    return None if value is None else bytes(value).decode("utf-8", errors="backslashreplace")


_raw_text = F.udf(raw_text, T.StringType())


def records(rejects: DataFrame, cfg: JobConfig) -> DataFrame:
    """Map validated rows whose `reason` is set to the dead-letter record shape."""
    received = F.coalesce(F.col("received_at"), (F.unix_micros("kafka_ts") / 1000).cast("long"))
    return rejects.select(
        F.lit(1).alias("v"),
        F.lit(cfg.pipeline).alias("pipeline"),
        F.col("gateway"),
        F.concat(F.lit("kafka:"), F.col("topic")).alias("source"),
        received.alias("received_at"),
        F.lit("spark").alias("stage"),
        F.col("reason"),
        F.col("detail"),
        _raw_text(F.col("raw_value")).alias("raw"),
        F.col("device_id"),
    )
