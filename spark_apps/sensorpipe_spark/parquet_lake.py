"""Idempotent writes to a plain Parquet lake, the alternative to Delta (`lake.format: parquet`).

Parquet has no MERGE and no transaction log, so the guarantees Delta gives by MERGE are built
here from three rules:

- readings are deduplicated within the batch and anti-joined against the rows already in
  the partitions (stream, date) the batch touches, so a replay adds nothing;
- every file a micro-batch writes has a name fixed by the query's id and the batch id
  (`part-<query>-b<batch>-<n>.parquet`), is written to `_staging/` first and then renamed
  into its partition. Spark re-runs an interrupted batch with the same offsets; the re-run
  leaves its own earlier files out of the anti-join, computes the same rows and renames
  them over the same names, so a re-run replaces instead of appending. The query id in the
  name keeps a new checkpoint (whose batch ids start at 0 again) from overwriting the files
  of an old one;
- aggregates are upserts, so each batch rewrites the date partitions it touches whole: old
  and new rows merged (per key the latest `updated_at` wins), one new file renamed in, then
  the partition's older files deleted. A crash between the two leaves both, and the re-run of
  the batch (or any later batch of that date) merges them back into one.

Readers list the folders: names starting with `_` are skipped by Spark and pyarrow alike, so
the staging area is invisible. Between the rename and the deletion of an aggregates
partition's old file, a reader can see that partition twice; the readings table never
shows a row twice. Paths go through Hadoop's FileSystem, so `s3a://` or `hdfs://` lakes work
the same way as local folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sensorpipe_spark import duplicates
from sensorpipe_spark.lake import (
    AGGREGATE_KEY,
    AGGREGATE_PARTITIONS,
    READING_PARTITIONS,
    Refuse,
    held_readings,
    in_partitions,
    query_id,
)

STAGING = "_staging"


class Storage:
    """The few Hadoop FileSystem calls the commit protocol needs, for any path scheme."""

    def __init__(self, spark: SparkSession) -> None:
        jvm: Any = spark.sparkContext._jvm
        self._path = jvm.org.apache.hadoop.fs.Path
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _fs(self, path: str) -> tuple[Any, Any]:
        p = self._path(path)
        return p.getFileSystem(self._conf), p

    def mkdirs(self, path: str) -> None:
        fs, p = self._fs(path)
        fs.mkdirs(p)

    def delete(self, path: str) -> None:
        fs, p = self._fs(path)
        fs.delete(p, True)

    def data_files(self, path: str) -> list[str]:
        """Every file under ``path`` (recursively) that a reader would read, as paths
        relative to ``path``."""
        fs, p = self._fs(path)
        if not fs.exists(p):
            return []
        root = str(fs.makeQualified(p).toString()).rstrip("/") + "/"
        out = []
        files = fs.listFiles(p, True)
        while files.hasNext():
            name = files.next().getPath()
            if not name.getName().startswith(("_", ".")):
                out.append(str(name.toString()).removeprefix(root))
        return sorted(out)

    def replace(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, replacing a file already there (HDFS rename would not)."""
        fs, s = self._fs(src)
        d = self._path(dst)
        fs.mkdirs(d.getParent())
        if fs.exists(d):
            fs.delete(d, False)
        if not fs.rename(s, d):
            raise OSError(f"could not rename {src} to {dst}")


def batch_stem(spark: SparkSession, batch_id: int) -> str:
    """`part-<query id>-b<batch id>`: the same for every attempt of one batch of one query."""
    return f"part-{query_id(spark)}-b{batch_id:012d}"


def ensure_table(spark: SparkSession, path: str) -> None:
    """Create the table's folder, so that streaming readers can start before any data."""
    Storage(spark).mkdirs(path)


def readings_stream(spark: SparkSession, path: str, schema: T.StructType) -> DataFrame:
    """The readings table as a stream of its new files, in the lake's row shape (``schema``).

    Partition discovery would take the partition columns from the folders present when the
    query starts: none in a new lake, so `stream` and `date` would be read as (missing) data
    columns, and the schema would differ after a restart. The files are read as plain files
    instead (`recursiveFileLookup`, which still skips `_staging`) and the partition values
    taken from each file's folder names.
    """
    data = T.StructType([f for f in schema.fields if f.name not in READING_PARTITIONS])
    files = spark.readStream.schema(data).option("recursiveFileLookup", "true").parquet(path)
    where = F.input_file_name()
    partition = {c: F.regexp_extract(where, f"/{c}=([^/]+)/", 1) for c in READING_PARTITIONS}
    return files.select(
        *[
            (F.to_date(partition[f.name]) if f.name == "date" else partition[f.name]).alias(f.name)
            if f.name in partition
            else F.col(f.name)
            for f in schema.fields
        ]
    )


def _existing(
    spark: SparkSession, path: str, like: DataFrame, partitions: Sequence[str]
) -> tuple[DataFrame, list[Any]]:
    """The table's rows in the partitions that ``like`` touches, with their file names."""
    values = like.select(*partitions).distinct().collect()
    table = spark.read.schema(like.schema).parquet(path)
    rows = table.where(in_partitions(values, partitions))
    return rows.withColumn("_file", F.input_file_name()), values


def commit(
    spark: SparkSession, path: str, rows: DataFrame, partitions: Sequence[str], stem: str
) -> None:
    """Write ``rows`` as `<partition folders>/<stem>-<n>.parquet`.

    One task per partition folder (repartition by the partition columns) makes one file per
    folder, so an attempt and its re-run write the same names.
    """
    storage = Storage(spark)
    table = path.rstrip("/")
    staging = f"{table}/{STAGING}/{stem}"
    storage.delete(staging)
    rows.repartition(*partitions).write.partitionBy(*partitions).parquet(staging)
    counts: dict[str, int] = {}
    for src in storage.data_files(staging):
        folder = src.rsplit("/", 1)[0] if "/" in src else ""
        n = counts.get(folder, 0)
        counts[folder] = n + 1
        storage.replace(f"{staging}/{src}", f"{table}/{folder}/{stem}-{n:03d}.parquet")
    storage.delete(staging)


def insert_readings(
    spark: SparkSession, path: str, rows: DataFrame, batch_id: int, refuse: Refuse
) -> None:
    """Add the readings of ``rows`` (lake rows plus ``duplicates.CARRIED``) that the table
    does not hold yet (by READING_KEY); first hand ``refuse`` the conflicting duplicates."""
    stem = batch_stem(spark, batch_id)
    existing, touched = _existing(spark, path, rows.drop(*duplicates.CARRIED), READING_PARTITIONS)
    if not touched:
        return
    # this batch's own files are an earlier attempt of it: rewritten below, not "already there"
    before = held_readings(existing.where(~F.col("_file").contains(f"/{stem}-")))
    classified = duplicates.classify(rows, before).persist()
    try:
        refuse(duplicates.conflicts(classified))
        commit(spark, path, duplicates.fresh(classified, rows), READING_PARTITIONS, stem)
    finally:
        classified.unpersist()


def _folder(path: str, row: Any, partitions: Sequence[str]) -> str:
    return "/".join([path.rstrip("/"), *(f"{c}={row[c]}" for c in partitions)])


def upsert_aggregates(spark: SparkSession, path: str, rows: DataFrame, batch_id: int) -> None:
    """Insert or overwrite the aggregates of ``rows`` by AGGREGATE_KEY, a date at a time."""
    stem = batch_stem(spark, batch_id)
    existing, touched = _existing(spark, path, rows, AGGREGATE_PARTITIONS)
    if not touched:
        return
    latest = Window.partitionBy(*AGGREGATE_KEY).orderBy(F.col("updated_at").desc())
    merged = (
        existing.drop("_file")
        .unionByName(rows)
        .withColumn("_rank", F.row_number().over(latest))
        .where("_rank = 1")
        .drop("_rank")
    )
    commit(spark, path, merged, AGGREGATE_PARTITIONS, stem)
    storage = Storage(spark)
    for row in touched:
        folder = _folder(path, row, AGGREGATE_PARTITIONS)
        for old in storage.data_files(folder):
            if not old.startswith(f"{stem}-"):
                storage.delete(f"{folder}/{old}")
