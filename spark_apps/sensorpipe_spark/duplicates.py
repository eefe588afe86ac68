"""Readings that share an identity: an identical copy is dropped, a conflicting one is refused.

The lake keeps one row per reading identity (stream, device_id, boot, seq). Kafka
redeliveries, spool replays and a simulator regenerating after a restart send the same
reading again: same identity, same values; those are dropped quietly. A reading with the
identity of another but different values is not the same reading (a device that restarted
its counter unnoticed, a producer reusing numbers): keeping the first silently would lose
the second without a trace, so it goes to the dead-letter topic with reason
`conflicting_duplicate`, naming both sets of values, and is counted in the job's log.

Values are compared as a whole (field → value, in field order); times are not, because a
redelivered reading of a device without a clock gets a new receive time as event time.
Which reading of an identity is "first" is fixed by Kafka timestamp, receive time and
values, so a batch that runs again after a crash keeps the same one.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

READING_KEY = ("stream", "device_id", "boot", "seq")
REASON = "conflicting_duplicate"
# what a dead letter needs of a reading beyond the lake's columns: the record as it came
CARRIED = ("raw_value", "utf8")
_WORK = ("_fp", "_rank", "_first", "_held")


def fingerprint(values: Column) -> Column:
    """A reading's values as comparable text (a map column cannot be compared in Spark)."""
    return F.to_json(F.array_sort(F.map_entries(values)))


def classify(rows: DataFrame, held: DataFrame) -> DataFrame:
    """``rows`` (a batch in the lake's shape plus CARRIED) with `_rank` (1 for the first
    reading of each identity in the batch), `_held` (the values the lake holds for it, if
    any) and `_fp` and `_first` (this and the batch's first reading's values, as text).
    ``held`` is the lake's READING_KEY and `values` in the partitions the batch touches."""
    key = list(READING_KEY)
    order = Window.partitionBy(*key).orderBy("kafka_ts", "received_at", "_fp")
    ranked = (
        rows.withColumn("_fp", fingerprint(F.col("values")))
        .withColumn("_rank", F.row_number().over(order))
        .withColumn("_first", F.first("_fp").over(order))
    )
    lake = held.select(*key, fingerprint(F.col("values")).alias("_held"))
    return ranked.join(lake, key, "left")


def fresh(classified: DataFrame, rows: DataFrame) -> DataFrame:
    """The readings to add: the first of each identity the lake does not hold, with the
    columns of ``rows`` (the batch :func:`classify` was given) in their order, less CARRIED
    (the join put the key first; a table's files should not depend on that)."""
    new = (F.col("_rank") == 1) & F.col("_held").isNull()
    return classified.where(new).select(*[c for c in rows.columns if c not in CARRIED])


def conflicts(classified: DataFrame) -> DataFrame:
    """Readings whose values differ from those of their identity's first reading (the
    lake's, or else the batch's first), shaped for :func:`deadletter.records`."""
    reference = F.coalesce(F.col("_held"), F.col("_first"))
    detail = F.format_string(
        "stream %s, device %s, boot %d, seq %d already has values %s; this reading has %s",
        "stream",
        "device_id",
        "boot",
        "seq",
        reference,
        "_fp",
    )
    return classified.where(F.col("_fp") != reference).select(
        F.col("kafka_topic").alias("topic"),
        "kafka_ts",
        "received_at",
        "gateway",
        "device_id",
        F.lit(REASON).alias("reason"),
        detail.alias("detail"),
        *CARRIED,
    )
