"""The edge gateway Deployment, one per ``spec.gateways[]`` entry.

A serial gateway reads a USB serial device on an edge node, and the pod joins the device's
group (dialout) instead of running privileged; one process may hold the port, hence Recreate
and at most one replica. The device arrives one of two ways. With ``serial.resource`` the pod
asks for one unit of that device plugin resource, and the plugin's allocation puts the device
at ``serial.device`` in the container (a real device also gets its rule in the container's
device cgroup): the way a real kubelet lets an unprivileged container open a char device,
and the pod names no node path. Without it, the node's
device is mounted as a hostPath CharDevice, which only a runtime that already allows the
device (a pty, or a permissive device cgroup) lets the container open.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_contract import identity
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders.common import (
    DIALOUT_GID,
    HTTP_PORT,
    config_volume,
    gateway_name,
    hardened_deployment,
    http_probe,
    kafka_env,
    kafka_volumes,
    placement_fields,
    secret_env,
    service_account_name,
)
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.workloads import Gateway

SPOOL_DIR = "/var/lib/sensorpipe/spool"


def _env(pipeline: Pipeline, gateway: Gateway) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "SENSORPIPE_CONFIG", "value": identity.CONFIG_PATH},
        {"name": "SENSORPIPE_SPOOL_DIR", "value": SPOOL_DIR},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    env += kafka_env(pipeline)
    mqtt = gateway.source.mqtt
    if mqtt is not None and mqtt.credentials is not None:
        env += [
            secret_env(rc.MQTT_USERNAME_ENV, mqtt.credentials.name, "username"),
            secret_env(rc.MQTT_PASSWORD_ENV, mqtt.credentials.name, "password"),
        ]
    return env


def build(pipeline: Pipeline, gateway: Gateway, default_image: str) -> dict[str, Any]:
    name = gateway_name(pipeline, gateway.name)
    config_vol, config_mount = config_volume(name)
    tls_vols, tls_mounts = kafka_volumes(pipeline)
    volumes = [
        config_vol,
        {"name": "spool", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        *tls_vols,
    ]
    mounts = [
        config_mount,
        {"name": "spool", "mountPath": SPOOL_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
        *tls_mounts,
    ]
    pod_spec: dict[str, Any] = {
        "serviceAccountName": service_account_name(pipeline, "gateway"),
        "automountServiceAccountToken": False,
        "volumes": volumes,
    }
    resources = {k: dict(v) for k, v in gateway.resources.items()}
    serial = gateway.source.serial
    if serial is not None:
        if serial.resource is not None:
            resources.setdefault("limits", {})[serial.resource] = "1"
        else:
            volumes.append(
                {"name": "serial", "hostPath": {"path": serial.device, "type": "CharDevice"}}
            )
            mounts.append({"name": "serial", "mountPath": serial.device})
        pod_spec["securityContext"] = {"supplementalGroups": [DIALOUT_GID]}
    pod_spec.update(placement_fields(gateway.placement))
    container: dict[str, Any] = {
        "name": "gateway",
        "image": gateway.image or default_image,
        "command": ["sensorpipe-gateway", "--config", identity.CONFIG_PATH],
        "env": _env(pipeline, gateway),
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "livenessProbe": http_probe("/healthz", 10),
        "readinessProbe": http_probe("/readyz", 5),
        "volumeMounts": mounts,
    }
    if resources:
        container["resources"] = resources
    deployment = hardened_deployment(
        pipeline,
        name=name,
        component="gateway",
        part=gateway.name,
        container=container,
        pod_spec=pod_spec,
        replicas=gateway.replicas,
        config_digest=rc.digest(rc.render(pipeline, gateway), without=("processing", "consumers")),
    )
    if serial is not None:
        deployment["spec"]["strategy"] = {"type": "Recreate"}
    return deployment
