"""The spark-operator ``SparkApplication`` (sparkoperator.k8s.io/v1beta2) running the
pipeline's Structured Streaming job.

A streaming job must never stay down, so the restart policy is Always (or OnFailure with
retries); the job's connector jars are resolved from Maven by version so that they always
match ``sparkVersion``. When the autoscaler targets Spark, the executor count is left to
dynamic allocation within the scaling bounds: the spark-operator restarts the whole
application on a change of ``executor.instances``, but not on what Spark decides itself.
The floor of those bounds belongs to the autoscaler (``autoscaled``): the operator declares
only that dynamic allocation is on and its ceiling.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_contract import identity
from sensorpipe_contract.identity import CONFIG_HASH_ANNOTATION
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders.common import (
    config_map_name,
    config_volume,
    kafka_env,
    kafka_volumes,
    labels,
    metadata,
    scaled_by_autoscaler,
    secret_env,
    service_account_name,
    spark_name,
)
from sensorpipe_operator.model.pipeline import Pipeline

API_VERSION = "sparkoperator.k8s.io/v1beta2"
MAIN_FILE = "local:///opt/sensorpipe/spark_apps/sensorpipe_spark/main.py"
SCALA = "2.13"
# Delta Lake artifact per Spark minor line (Delta's compatibility table). From Delta 4.1 the
# artifact carries the Spark line in its name (delta-spark_<spark minor>_<scala>); the CRD's
# sparkVersion pattern admits exactly these lines, so every accepted version has a Delta jar.
DELTA_FOR_SPARK = {
    "4.0": f"io.delta:delta-spark_{SCALA}:4.0.0",
    "4.2": f"io.delta:delta-spark_4.2_{SCALA}:4.4.0",
}


def packages(pipeline: Pipeline) -> list[str]:
    """Maven coordinates of the Kafka connector (same version as Spark) and, for a Delta lake,
    the Delta jar of the matching line."""
    version = pipeline.processing.spark_version
    out = [f"org.apache.spark:spark-sql-kafka-0-10_{SCALA}:{version}"]
    if pipeline.processing.sinks.lake_format == "delta":
        out.append(DELTA_FOR_SPARK[".".join(version.split(".")[:2])])
    return out


def floor(executors: int) -> dict[str, int]:
    """Dynamic allocation's floor at ``executors``, with as many executors at (re)start so
    that a restart does not climb up from nothing."""
    return {"minExecutors": executors, "initialExecutors": max(executors, 1)}


def autoscaled(pipeline: Pipeline) -> dict[str, Any] | None:
    """The fields of the SparkApplication the autoscaler owns, with the values a new one
    starts at (the spec's minimum); None when Spark is not autoscaled."""
    if not scaled_by_autoscaler(pipeline, "spark"):
        return None
    return {"spec": {"dynamicAllocation": floor(pipeline.scaling.min_replicas)}}


def _restart_policy(pipeline: Pipeline) -> dict[str, Any]:
    policy = pipeline.processing.restart_policy
    out: dict[str, Any] = {"type": policy.type}
    if policy.type == "OnFailure":
        out.update(
            onFailureRetries=policy.on_failure_retries,
            onFailureRetryInterval=policy.on_failure_retry_interval,
            onSubmissionFailureRetries=policy.on_submission_failure_retries,
            onSubmissionFailureRetryInterval=policy.on_submission_failure_retry_interval,
        )
    return out


# What keeps the driver within the ClusterRole it is bound to (spark-driver-rules.yaml): its
# headless Service goes with the driver pod that owns it instead of being deleted by the driver,
# and with no claim mounted there is no claim to own, list or delete.
DRIVER_API_CONF = {
    "spark.kubernetes.driver.service.deleteOnTermination": "false",
    "spark.kubernetes.driver.ownPersistentVolumeClaim": "false",
    "spark.kubernetes.driver.reusePersistentVolumeClaim": "false",
}


# The state store of the stateful queries: RocksDB, off the JVM heap, uploading each batch's
# changes (changelog) rather than whole snapshots. The same as the job's own session sets.
STATE_STORE_CONF = {
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
}


def shuffle_partitions(pipeline: Pipeline) -> int:
    """One shuffle partition per executor core at the most executors the job may have.

    The count is written into a stateful query's checkpoint at its first start and never
    changes after, so it is sized for the ceiling (the autoscaler's maximum when it scales
    Spark), not for today's executors; Spark's default of 200 would run 200 state-store
    tasks per micro-batch on a handful of cores.
    """
    proc = pipeline.processing
    executors = (
        pipeline.scaling.max_replicas
        if scaled_by_autoscaler(pipeline, "spark")
        else proc.executor.instances
    )
    return executors * proc.executor.cores


def _spark_conf(pipeline: Pipeline) -> dict[str, str]:
    partitions = str(shuffle_partitions(pipeline))
    conf = {
        "spark.sql.streaming.checkpointLocation": pipeline.checkpoint_path,
        "spark.jars.ivy": "/tmp/.ivy2",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": partitions,
        "spark.default.parallelism": partitions,
        **STATE_STORE_CONF,
        **DRIVER_API_CONF,
    }
    if pipeline.processing.sinks.lake_format == "delta":
        conf["spark.sql.extensions"] = "io.delta.sql.DeltaSparkSessionExtension"
        conf["spark.sql.catalog.spark_catalog"] = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    return conf


def build(pipeline: Pipeline, default_image: str) -> dict[str, Any]:
    proc = pipeline.processing
    config_vol, config_mount = config_volume(config_map_name(pipeline))
    tls_vols, tls_mounts = kafka_volumes(pipeline)
    env = kafka_env(pipeline)
    if proc.sinks.postgres is not None:
        env.append(
            secret_env(
                rc.PG_DSN_ENV, proc.sinks.postgres.secret.name, proc.sinks.postgres.secret.key
            )
        )
    pod_labels = labels(pipeline, "processing")
    digest = rc.digest(rc.render(pipeline), without=("consumers",))
    driver: dict[str, Any] = {
        "cores": proc.driver.cores,
        "memory": proc.driver.memory,
        "serviceAccount": service_account_name(pipeline, "spark"),
        "labels": pod_labels,
        "annotations": {CONFIG_HASH_ANNOTATION: digest},
        "volumeMounts": [config_mount, *tls_mounts],
    }
    executor: dict[str, Any] = {
        "cores": proc.executor.cores,
        "memory": proc.executor.memory,
        "serviceAccount": service_account_name(pipeline, "spark-executor"),
        "labels": pod_labels,
        "volumeMounts": [config_mount, *tls_mounts],
    }
    if env:
        driver["env"] = env
        executor["env"] = list(env)
    spec: dict[str, Any] = {
        "type": "Python",
        "mode": "cluster",
        "image": proc.image or default_image,
        "imagePullPolicy": "IfNotPresent",
        "mainApplicationFile": MAIN_FILE,
        "arguments": ["stream", "--config", identity.CONFIG_PATH],
        "sparkVersion": proc.spark_version,
        "sparkConf": _spark_conf(pipeline),
        "deps": {"packages": packages(pipeline)},
        "restartPolicy": _restart_policy(pipeline),
        "driver": driver,
        "executor": executor,
        "volumes": [config_vol, *tls_vols],
    }
    if scaled_by_autoscaler(pipeline, "spark"):
        spec["dynamicAllocation"] = {"enabled": True, "maxExecutors": pipeline.scaling.max_replicas}
    else:
        executor["instances"] = proc.executor.instances
    return {
        "apiVersion": API_VERSION,
        "kind": "SparkApplication",
        "metadata": metadata(pipeline, spark_name(pipeline), "processing"),
        "spec": spec,
    }
