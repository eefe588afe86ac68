"""Building the SparkSession the jobs share.

On Kubernetes the spark-operator sets the master and the jars in the image are already on
the classpath; locally (tests, demo, benchmarks) the session runs in `local[N]` mode with the
Kafka connector and Delta jars passed by absolute path in `spark.jars`, so nothing is
resolved from the network at run time. Small shuffle partitions and no UI keep a 2-core
machine responsive.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pyspark.sql import SparkSession

JARS_ENV = "SENSORPIPE_SPARK_JARS"
MASTER_ENV = "SENSORPIPE_SPARK_MASTER"

# Settings that make small local runs fast and Delta usable; the operator's SparkApplication
# may override any of them through sparkConf.
BASE_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    # RocksDB keeps state off the JVM heap, and changelog checkpointing uploads only each
    # batch's changes instead of a snapshot of every store. A checkpoint keeps the provider it
    # was started with, so an old HDFS-backed checkpoint still restarts.
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.streaming.noDataMicroBatches.enabled": "true",
    # one pool per query (streaming.StreamingJob.start): a long lake write of one query no
    # longer queues the short batches of another behind all of its tasks
    "spark.scheduler.mode": "FAIR",
    # the pools' weights and minimum shares: the alerts query's pool first
    "spark.scheduler.allocation.file": str(Path(__file__).with_name("fairscheduler.xml")),
}

# Only for a Delta lake: the operator leaves the Delta jars out of a Parquet pipeline's
# SparkApplication, and an extension class that is not there must not be named.
DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
}

LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.driver.memory": "1g",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.driver.extraJavaOptions": "-XX:+UseParallelGC -Dlog4j2.level=warn",
}


def local_cores(master: str) -> int:
    """The cores of a `local`, `local[N]` or `local[*]` master (retries suffix ignored)."""
    m = re.match(r"^local(?:\[(\*|\d+)(?:,\s*\d+)?\])?$", master)
    if not m:
        raise ValueError(f"not a local Spark master: {master!r}")
    cores = m.group(1)
    if cores is None:
        return 1
    return (os.cpu_count() or 1) if cores == "*" else int(cores)


def partitions(cores: int) -> dict[str, str]:
    """Shuffle partitions equal to the cores that run them. A stateful query keeps this count
    in its checkpoint for good (one state store per partition), so it is set before the first
    start: Spark's default of 200 would run 200 state-store tasks per batch on a few cores."""
    return {"spark.sql.shuffle.partitions": str(cores), "spark.default.parallelism": str(cores)}


def build(
    app_name: str,
    master: str | None = None,
    extra: dict[str, str] | None = None,
    delta: bool = True,
) -> SparkSession:
    """Create (or return the running) session with Delta (unless ``delta`` is false) and,
    locally, the connector jars.

    ``master`` defaults to ``$SENSORPIPE_SPARK_MASTER``; when neither is set the master is
    left to spark-submit (the spark-operator's case).
    """
    builder = SparkSession.builder.appName(app_name)
    master = master or os.environ.get(MASTER_ENV)
    conf = dict(BASE_CONF)
    if delta:
        conf.update(DELTA_CONF)
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            conf.update(LOCAL_CONF)
            conf.update(partitions(local_cores(master)))
    jars = os.environ.get(JARS_ENV, "")
    if jars:
        conf["spark.jars"] = jars
    conf.update(extra or {})
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
