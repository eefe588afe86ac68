"""What a pipeline's spec says is scaled, and the policy settings for each kind of target.

Pure: spec model in, targets out. Consumer Deployments and the SparkApplication are named by
the operator's builders; this module only reuses those names and the consumer groups.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

from sensorpipe_contract import naming
from sensorpipe_operator.builders.common import consumer_name, spark_name
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.workloads import Consumer
from sensorpipe_operator.scaling.policy import PolicyConfig

# A Spark restart (driver pod, executors, re-reading the checkpoint) keeps a streaming job
# from processing for about this long; the policy weighs every Spark change against it.
SPARK_RESTART_COST = 90.0
# Spark changes move at least this many executors, so that each restart buys a real change.
SPARK_MIN_STEP = 2
# librdkafka's default auto.commit.interval.ms, which the consumer Deployments keep.
CONSUMER_COMMIT_INTERVAL = 5.0


class Kind(StrEnum):
    DEPLOYMENT = "Deployment"
    SPARK = "SparkApplication"


@dataclass(frozen=True)
class ScaleTarget:
    """One scaled object, the consumer group whose lag drives it and that group's topics."""

    kind: Kind
    name: str
    group: str
    topics: tuple[str, ...]
    config: PolicyConfig


def consumer_topics(pipeline: Pipeline, consumer: Consumer) -> tuple[str, ...]:
    """The topics a consumer of this type reads (its group's lag is measured over them)."""
    if consumer.type == "alert-notifier":
        return (pipeline.alerts_topic,)
    raise ValueError(f"unknown consumer type {consumer.type!r}")


def policy_config(pipeline: Pipeline, kind: Kind) -> PolicyConfig:
    """The spec's scaling block for the policy; Spark adds its restart cost and step."""
    spark = kind is Kind.SPARK
    return PolicyConfig(
        **asdict(pipeline.scaling),
        restart_cost=SPARK_RESTART_COST if spark else 0.0,
        min_step=SPARK_MIN_STEP if spark else 1,
        # Spark commits once per micro-batch, consumers on librdkafka's auto-commit timer.
        commit_interval=(
            pipeline.processing.trigger_interval if spark else CONSUMER_COMMIT_INTERVAL
        ),
    )


def targets(pipeline: Pipeline) -> tuple[ScaleTarget, ...]:
    """Every object the autoscaler drives for this pipeline (none when scaling is off)."""
    if not pipeline.scaling.enabled:
        return ()
    if pipeline.scaling.target == "spark":
        return (
            ScaleTarget(
                Kind.SPARK,
                spark_name(pipeline),
                naming.spark_group(pipeline.name),
                tuple(pipeline.stream_topic(s) for s in pipeline.streams),
                policy_config(pipeline, Kind.SPARK),
            ),
        )
    config = policy_config(pipeline, Kind.DEPLOYMENT)
    return tuple(
        ScaleTarget(
            Kind.DEPLOYMENT,
            consumer_name(pipeline, c.name),
            pipeline.consumer_group(c),
            consumer_topics(pipeline, c),
            config,
        )
        for c in pipeline.consumers
    )
