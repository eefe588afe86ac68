"""Consumer Deployments (``spec.consumers[]``): plain Kafka consumers that the autoscaler may
scale, each in its own consumer group ``<pipeline>.<consumer>``."""

from __future__ import annotations

from typing import Any

from sensorpipe_contract import identity
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders.common import (
    HTTP_PORT,
    config_map_name,
    config_volume,
    consumer_name,
    hardened_deployment,
    http_probe,
    kafka_env,
    kafka_volumes,
    placement_fields,
    scaled_by_autoscaler,
    secret_env,
    service_account_name,
)
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.workloads import Consumer

COMMANDS = {"alert-notifier": "sensorpipe-notify"}


def autoscaled(pipeline: Pipeline) -> dict[str, Any] | None:
    """The field of a consumer Deployment the autoscaler owns, with the value a new one
    starts at; None when the consumers are not autoscaled."""
    if not scaled_by_autoscaler(pipeline, "consumers"):
        return None
    return {"spec": {"replicas": pipeline.scaling.min_replicas}}


def _webhook_env(consumer: Consumer) -> list[dict[str, Any]]:
    """The webhook URL from its Secret, never via the ConfigMap or the Deployment's spec."""
    if consumer.webhook_secret is None:
        return []
    ref = consumer.webhook_secret
    return [secret_env(rc.WEBHOOK_URL_ENV, ref.name, ref.key)]


def build(pipeline: Pipeline, consumer: Consumer, default_image: str) -> dict[str, Any]:
    config_vol, config_mount = config_volume(config_map_name(pipeline))
    tls_vols, tls_mounts = kafka_volumes(pipeline)
    container = {
        "name": "consumer",
        "image": consumer.image or default_image,
        "command": [COMMANDS[consumer.type], "--config", identity.CONFIG_PATH],
        "env": [
            {"name": "SENSORPIPE_CONFIG", "value": identity.CONFIG_PATH},
            {"name": "SENSORPIPE_CONSUMER_NAME", "value": consumer.name},
            *kafka_env(pipeline),
            *_webhook_env(consumer),
        ],
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "livenessProbe": http_probe("/healthz", 10),
        "readinessProbe": http_probe("/readyz", 5),
        "volumeMounts": [config_mount, {"name": "tmp", "mountPath": "/tmp"}, *tls_mounts],
    }
    pod_spec = {
        "serviceAccountName": service_account_name(pipeline, "consumer"),
        "automountServiceAccountToken": False,
        "volumes": [
            config_vol,
            {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
            *tls_vols,
        ],
        **placement_fields(consumer.placement),
    }
    return hardened_deployment(
        pipeline,
        name=consumer_name(pipeline, consumer.name),
        component="consumer",
        part=consumer.name,
        container=container,
        pod_spec=pod_spec,
        replicas=None if scaled_by_autoscaler(pipeline, "consumers") else consumer.replicas,
        config_digest=rc.digest(rc.render(pipeline), without=("processing",)),
    )
