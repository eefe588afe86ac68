"""What every child shares: names, labels, the Kafka credentials wiring and the hardened
Deployment skeleton that gateways and consumers both run in.

Keeping names here means the reconciler, the status code and the tests all agree on which
object belongs to which part of the spec.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_contract import identity, naming
from sensorpipe_contract.identity import (
    CONFIG_HASH_ANNOTATION,
    MANAGED,
    PART_LABEL,
    PIPELINE_LABEL,
)
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.workloads import Placement

NON_ROOT_UID = 10001
DIALOUT_GID = 20
HTTP_PORT = 8080


def labels(pipeline: Pipeline, component: str, part: str = "") -> dict[str, str]:
    """The labels of docs/contracts.md §1 plus ``part`` (the gateway or consumer name) where one
    pipeline has several children of a component, so selectors never overlap."""
    out = {
        **MANAGED,
        "app.kubernetes.io/name": "sensorpipe",
        "app.kubernetes.io/instance": pipeline.name,
        "app.kubernetes.io/component": component,
        PIPELINE_LABEL: pipeline.name,
    }
    if part:
        out[PART_LABEL] = part
    return out


def metadata(pipeline: Pipeline, name: str, component: str, part: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "namespace": pipeline.namespace,
        "labels": labels(pipeline, component, part),
    }


def config_map_name(pipeline: Pipeline) -> str:
    return naming.config_map(pipeline.name)


def gateway_name(pipeline: Pipeline, gateway: str) -> str:
    return naming.gateway_child(pipeline.name, gateway)


def consumer_name(pipeline: Pipeline, consumer: str) -> str:
    return naming.consumer_child(pipeline.name, consumer)


def spark_name(pipeline: Pipeline) -> str:
    return naming.spark_application(pipeline.name)


def scaled_by_autoscaler(pipeline: Pipeline, target: str) -> bool:
    """Whether the autoscaler drives the scale of ``target`` (``consumers`` or ``spark``): the
    builders then leave that field out of what the operator declares (see ``ownership``)."""
    return pipeline.scaling.enabled and pipeline.scaling.target == target


def service_account_name(pipeline: Pipeline, role: str) -> str:
    return naming.service_account(pipeline.name, role)


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def kafka_env(pipeline: Pipeline) -> list[dict[str, Any]]:
    """SCRAM credentials as environment variables named by the runtime config."""
    auth = pipeline.kafka.authentication
    if auth is None or auth.type != "scram-sha-512":
        return []
    return [
        secret_env(rc.KAFKA_USERNAME_ENV, auth.secret.name, "username"),
        secret_env(rc.KAFKA_PASSWORD_ENV, auth.secret.name, "password"),
    ]


def kafka_volumes(pipeline: Pipeline) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The TLS files of the Kafka Secret where the runtime config says they are: (volumes,
    mounts); for SCRAM over TLS only its ca.crt, the credentials stay in the environment."""
    auth = pipeline.kafka.authentication
    if auth is None or not auth.tls:
        return [], []
    secret: dict[str, Any] = {"secretName": auth.secret.name}
    if auth.type != "tls":
        secret["items"] = [{"key": "ca.crt", "path": "ca.crt"}]
    return (
        [{"name": "kafka-tls", "secret": secret}],
        [{"name": "kafka-tls", "mountPath": identity.TLS_DIR, "readOnly": True}],
    )


def config_volume(config_map: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {"name": "config", "configMap": {"name": config_map}},
        {"name": "config", "mountPath": identity.CONFIG_DIR, "readOnly": True},
    )


def placement_fields(placement: Placement) -> dict[str, Any]:
    """The pod spec's nodeSelector and tolerations, left out when the spec sets none so the
    scheduler's and the namespace's defaults apply."""
    fields: dict[str, Any] = {}
    if placement.node_selector:
        fields["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        fields["tolerations"] = [dict(t) for t in placement.tolerations]
    return fields


def http_probe(path: str, period: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
    }


def hardened_deployment(
    pipeline: Pipeline,
    *,
    name: str,
    component: str,
    part: str,
    container: dict[str, Any],
    pod_spec: dict[str, Any],
    replicas: int | None,
    config_digest: str,
) -> dict[str, Any]:
    """A Deployment whose pod runs non-root on a read-only root filesystem with no privilege
    escalation and no capabilities; ``container`` and ``pod_spec`` add what differs.

    ``replicas`` None leaves the field out, so that another field manager (the autoscaler)
    can own it without this operator resetting it on every apply (see ``ownership``).
    """
    meta = metadata(pipeline, name, component, part)
    selector = {
        PIPELINE_LABEL: pipeline.name,
        PART_LABEL: part,
        "app.kubernetes.io/component": component,
    }
    security = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    pod_security: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_UID,
        "runAsGroup": NON_ROOT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod_security.update(pod_spec.pop("securityContext", {}))
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {
                "labels": meta["labels"],
                "annotations": {
                    CONFIG_HASH_ANNOTATION: config_digest,
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(HTTP_PORT),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": {
                "securityContext": pod_security,
                "containers": [{**container, "securityContext": security}],
                **pod_spec,
            },
        },
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
