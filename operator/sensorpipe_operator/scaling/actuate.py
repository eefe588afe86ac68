"""Reading and setting the scale of a target through the API server.

Deployments go through the ``scale`` subresource: it touches nothing but ``replicas``, needs
only the ``deployments/scale`` right, and never races the operator's own writes of the pod
template. For the SparkApplication the policy sets the *floor* of dynamic allocation
(``minExecutors``, with ``initialExecutors`` so a restart starts there): the capacity the
backlog justifies. ``maxExecutors`` stays as the spec says, so Spark may still add executors
above the floor on its own for short bursts, without a restart. A SparkApplication without
dynamic allocation is scaled by ``executor.instances``.

Every write is made as the autoscaler's own field manager, which therefore owns what it set;
the operator's reconciler does not declare those fields and so never reverts them
(``sensorpipe_operator.ownership``).
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sensorpipe_contract.identity import AUTOSCALER_MANAGER
from sensorpipe_operator.builders.sparkapp import floor
from sensorpipe_operator.scaling.targets import Kind, ScaleTarget

SPARK_GROUP = "sparkoperator.k8s.io"
SPARK_VERSION = "v1beta2"
SPARK_PLURAL = "sparkapplications"
HTTP_NOT_FOUND = 404


def spark_executors(app: dict[str, Any]) -> int:
    """The executor count the scaler controls in a SparkApplication."""
    spec = app.get("spec", {})
    dyn = spec.get("dynamicAllocation") or {}
    if dyn.get("enabled"):
        return int(dyn.get("minExecutors", dyn.get("initialExecutors", 0)))
    return int((spec.get("executor") or {}).get("instances", 1))


def spark_patch(app: dict[str, Any], executors: int) -> dict[str, Any]:
    """The merge patch that sets the controlled executor count to ``executors``."""
    dyn = app.get("spec", {}).get("dynamicAllocation") or {}
    if dyn.get("enabled"):
        bounds: dict[str, Any] = floor(executors)
        if int(dyn.get("maxExecutors", executors)) < executors:
            bounds["maxExecutors"] = executors
        return {"spec": {"dynamicAllocation": bounds}}
    return {"spec": {"executor": {"instances": executors}}}


class Actuator:
    """Current scale and scale changes for one namespace's targets."""

    def __init__(self, api: client.ApiClient) -> None:
        self._apps = client.AppsV1Api(api)
        self._custom = client.CustomObjectsApi(api)

    def current(self, namespace: str, target: ScaleTarget) -> int | None:
        """The target's scale now, or None when it does not exist (yet)."""
        try:
            if target.kind is Kind.DEPLOYMENT:
                scale = self._apps.read_namespaced_deployment_scale(target.name, namespace)
                return int(scale.spec.replicas or 0)
            return spark_executors(self._spark(namespace, target.name))
        except ApiException as exc:
            if exc.status == HTTP_NOT_FOUND:
                return None
            raise

    def set(self, namespace: str, target: ScaleTarget, replicas: int) -> None:
        """Set the target's scale to ``replicas``."""
        if target.kind is Kind.DEPLOYMENT:
            self._apps.patch_namespaced_deployment_scale(
                target.name,
                namespace,
                {"spec": {"replicas": replicas}},
                field_manager=AUTOSCALER_MANAGER,
            )
            return
        app = self._spark(namespace, target.name)
        self._custom.patch_namespaced_custom_object(
            SPARK_GROUP,
            SPARK_VERSION,
            namespace,
            SPARK_PLURAL,
            target.name,
            spark_patch(app, replicas),
            field_manager=AUTOSCALER_MANAGER,
        )

    def _spark(self, namespace: str, name: str) -> dict[str, Any]:
        app: dict[str, Any] = self._custom.get_namespaced_custom_object(
            SPARK_GROUP, SPARK_VERSION, namespace, SPARK_PLURAL, name
        )
        return app
