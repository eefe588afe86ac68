"""The Spark job's part of the spec: versions, timing, pods, restart policy and sinks."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorpipe_contract.runtime import LAKE_FORMATS
from sensorpipe_operator.model.alerts import Alerts, parse_alerts
from sensorpipe_operator.model.cursor import Cursor, SecretRef, secret_ref
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.streams import Stream

# The Spark lines the job and its Delta jars support (builders/sparkapp.DELTA_FOR_SPARK).
SPARK_VERSION_PATTERN = r"^4\.[02]\.[0-9]+$"
RESTART_TYPES = ("Always", "OnFailure")
MAX_WATERMARK_SECONDS = 86400.0


@dataclass(frozen=True)
class SparkPod:
    cores: int = 1
    memory: str = "1g"
    instances: int = 1


@dataclass(frozen=True)
class Postgres:
    secret: SecretRef
    table: str = "sensor_aggregates"


@dataclass(frozen=True)
class Sinks:
    lake_format: str = "delta"
    lake_path: str = "/data/lake"
    postgres: Postgres | None = None
    aggregates_topic: bool = True


@dataclass(frozen=True)
class RestartPolicy:
    type: str = "Always"
    on_failure_retries: int = 3
    on_failure_retry_interval: int = 10
    on_submission_failure_retries: int = 5
    on_submission_failure_retry_interval: int = 20


@dataclass(frozen=True)
class Processing:
    image: str = ""
    spark_version: str = "4.2.0"
    trigger_interval: float = 10.0
    max_offsets_per_trigger: int | None = None
    window: float = 900.0
    watermark: float = 600.0
    driver: SparkPod = field(default_factory=SparkPod)
    executor: SparkPod = field(default_factory=lambda: SparkPod(memory="2g"))
    checkpoint_path: str = ""
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    alerts: Alerts = field(default_factory=Alerts)
    sinks: Sinks = field(default_factory=Sinks)


def _spark_pod(cur: Cursor, memory: str, with_instances: bool) -> SparkPod:
    return SparkPod(
        cores=cur.integer("cores", 1, 1, 64),
        memory=cur.string("memory", memory, pattern=r"^[0-9]+[kmgt]?$"),
        instances=cur.integer("instances", 1, 1, 1000) if with_instances else 1,
    )


def parse_processing(cur: Cursor, streams: tuple[Stream, ...]) -> Processing:
    trigger = cur.duration("triggerInterval", "10s")
    window = cur.duration("window", "15m")
    watermark = cur.duration("watermark", "10m")
    if trigger <= 0:
        raise SpecError(cur.at("triggerInterval"), "must be above zero")
    if window < trigger:
        raise SpecError(cur.at("window"), "must not be shorter than triggerInterval")
    if watermark > MAX_WATERMARK_SECONDS:
        raise SpecError(cur.at("watermark"), "must not exceed 24h")
    rcur, scur = cur.obj("restartPolicy"), cur.obj("sinks")
    pcur = scur.obj("postgres") if scur.has("postgres") else None
    lake = scur.obj("lake")
    return Processing(
        image=cur.string("image", ""),
        spark_version=cur.string("sparkVersion", "4.2.0", pattern=SPARK_VERSION_PATTERN),
        trigger_interval=trigger,
        max_offsets_per_trigger=(
            cur.integer("maxOffsetsPerTrigger", None, 1, 100_000_000)
            if cur.has("maxOffsetsPerTrigger")
            else None
        ),
        window=window,
        watermark=watermark,
        driver=_spark_pod(cur.obj("driver"), "1g", with_instances=False),
        executor=_spark_pod(cur.obj("executor"), "2g", with_instances=True),
        checkpoint_path=cur.string("checkpointPath", "", pattern=r"^(/|[a-z0-9]+://)\S*$"),
        restart_policy=RestartPolicy(
            type=rcur.string("type", "Always", choices=RESTART_TYPES),
            on_failure_retries=rcur.integer("onFailureRetries", 3, 0, 1000),
            on_failure_retry_interval=rcur.integer("onFailureRetryInterval", 10, 1, 3600),
            on_submission_failure_retries=rcur.integer("onSubmissionFailureRetries", 5, 0, 1000),
            on_submission_failure_retry_interval=rcur.integer(
                "onSubmissionFailureRetryInterval", 20, 1, 3600
            ),
        ),
        alerts=parse_alerts(cur.obj("alerts"), streams),
        sinks=Sinks(
            lake_format=lake.string("format", "delta", choices=LAKE_FORMATS),
            lake_path=lake.string("path", "/data/lake", pattern=r"^(/|[a-z0-9]+://)\S*$"),
            postgres=Postgres(
                secret=secret_ref(pcur.obj("secretRef"), default_key="dsn"),
                table=pcur.string("table", "sensor_aggregates", pattern=r"^[a-z_][a-z0-9_]*$"),
            )
            if pcur
            else None,
            aggregates_topic=scur.boolean("aggregatesTopic", True),
        ),
    )
