"""Rejected records as dead-letter records (docs/contracts.md §3, stage "spark").

The dead-letter topic is where a person looks to learn why a reading never reached the lake,
so each record carries the reason code, a readable detail and the input exactly as it came,
with undecodable bytes written as `\\xNN` like the gateway does.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sensorpipe_spark.config import JobConfig

# Valid UTF-8 is kept as text; otherwise ASCII bytes stay and every other byte becomes
# `\xNN`. Done in SQL rather than a Python UDF so a batch never waits for a Python worker.
_ESCAPED_SQL = (
    "array_join(transform(regexp_extract_all(hex(raw_value), '(..)', 1), "
    "h -> CASE WHEN conv(h, 16, 10) < 128 THEN decode(unhex(h), 'US-ASCII') "
    "ELSE concat('\\\\x', lower(h)) END), '')"
)


def raw_text(raw_value: Column, utf8: Column) -> Column:
    """The record's bytes as text; undecodable input with non-ASCII bytes as `\\xNN`."""
    return F.when(utf8, raw_value.cast("string")).otherwise(F.expr(_ESCAPED_SQL))


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
        raw_text(F.col("raw_value"), F.col("utf8")).alias("raw"),
        F.col("device_id"),
    )
