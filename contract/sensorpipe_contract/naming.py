"""Every name derived from a pipeline's: Kafka topics, consumer groups, child objects.

The operator derives them once and writes the ones a reader needs into the runtime config
document; the few a reader needs beyond the document (Spark's measured group) come from here
too, so no package spells a name pattern of its own.
"""

from __future__ import annotations

CHECKPOINT_ROOT = "/data/checkpoints"


# ------------------------------------------------------------------------------ Kafka topics


def stream_topic(pipeline: str, stream: str) -> str:
    """The default topic of a stream (a spec may name another)."""
    return f"{pipeline}.{stream}"


def dead_letter_topic(pipeline: str) -> str:
    return f"{pipeline}.deadletter"


def aggregates_topic(pipeline: str) -> str:
    return f"{pipeline}.aggregates"


def alerts_topic(pipeline: str) -> str:
    return f"{pipeline}.alerts"


# --------------------------------------------------------------------------- consumer groups


def consumer_group(pipeline: str, consumer: str) -> str:
    """A consumer Deployment's group, which the autoscaler measures."""
    return f"{pipeline}.{consumer}"


def spark_group(pipeline: str) -> str:
    """The group the Spark job commits its processed offsets to, only so that the autoscaler
    can measure its lag (docs/contracts.md §6)."""
    return f"{pipeline}.spark"


def gateway_source_group(pipeline: str, gateway: str) -> str:
    """A Kafka-source gateway's default group (never a consumer's: those names have no dot)."""
    return f"{pipeline}.gateway.{gateway}"


# ------------------------------------------------------------------------------ the lake


def checkpoint_path(namespace: str, pipeline: str) -> str:
    """The Spark job's default checkpoint folder."""
    return f"{CHECKPOINT_ROOT}/{namespace}/{pipeline}"


# -------------------------------------------------------------------------- child objects


def config_map(pipeline: str) -> str:
    """The ConfigMap of the Spark job's and the consumers' runtime config document."""
    return f"{pipeline}-config"


def gateway_child(pipeline: str, gateway: str) -> str:
    """A gateway's Deployment and its ConfigMap."""
    return f"{pipeline}-gw-{gateway}"


def consumer_child(pipeline: str, consumer: str) -> str:
    return f"{pipeline}-consumer-{consumer}"


def spark_application(pipeline: str) -> str:
    return f"{pipeline}-processing"


def service_account(pipeline: str, role: str) -> str:
    """``role``: spark, spark-executor, gateway or consumer (also the RoleBinding's name)."""
    return f"{pipeline}-{role}"


def stream_topic_key(stream: str) -> str:
    """A stream topic's stable key inside the pipeline (the others are deadletter,
    aggregates and alerts)."""
    return f"stream-{stream}"


def topic_object(pipeline: str, key: str) -> str:
    """A KafkaTopic resource, by its topic's key."""
    return f"{pipeline}-{key}"
