"""Pure builders: the model in, Kubernetes manifests (plain dicts) out, one module per kind.

``desired_children`` is the one list the reconciler applies, ``autoscaled_fields`` what of
it the autoscaler owns; nothing here talks to an API.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_operator.builders import (
    configmap,
    consumer,
    gateway,
    kafkatopic,
    rolebinding,
    serviceaccount,
    sparkapp,
)
from sensorpipe_operator.builders.common import consumer_name, spark_name
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.settings import Images


def desired_children(
    pipeline: Pipeline, images: Images, topic_api: str | None = kafkatopic.API_VERSION
) -> list[dict[str, Any]]:
    """Every child the pipeline needs, in creation order (accounts, the driver's rights and
    config before the workloads that use them). ``topic_api`` is the KafkaTopic apiVersion the
    cluster serves; None leaves the topics out (the reconciler reports the missing API)."""
    children: list[dict[str, Any]] = []
    children += serviceaccount.build(pipeline)
    children.append(rolebinding.build(pipeline))
    children += configmap.build(pipeline)
    if pipeline.kafka.topic_backend == "strimzi" and topic_api is not None:
        children += kafkatopic.build(pipeline, topic_api)
    children.append(sparkapp.build(pipeline, images.spark))
    children += [gateway.build(pipeline, gw, images.gateway) for gw in pipeline.gateways]
    children += [consumer.build(pipeline, c, images.consumer) for c in pipeline.consumers]
    return children


def autoscaled_fields(pipeline: Pipeline) -> dict[tuple[str, str], dict[str, Any]]:
    """Per child (kind, name), the fields the autoscaler owns, with the values a new child
    starts at. ``desired_children`` leaves them out; the reconciler writes them only where
    they are missing and hands them to the autoscaler (see ``ownership``)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    spark = sparkapp.autoscaled(pipeline)
    if spark is not None:
        out[("SparkApplication", spark_name(pipeline))] = spark
    replicas = consumer.autoscaled(pipeline)
    if replicas is not None:
        for c in pipeline.consumers:
            out[("Deployment", consumer_name(pipeline, c.name))] = replicas
    return out
