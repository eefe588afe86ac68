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

from sensorpipe_contract.identity import AUTOSCALER_MANAGER
from sensorpipe_operator.builders.sparkapp import floor
from sensorpipe_operator.kube import KINDS, Kube
from sensorpipe_operator.scaling.targets import Kind, ScaleTarget

DEPLOYMENTS = KINDS["Deployment"]
SPARK_APPLICATIONS = KINDS["SparkApplication"]


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
    """Current scale and scale changes for one namespace's targets, through the process's one
    Kubernetes client (so the autoscaler's writes are counted with the operator's)."""

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    def current(self, namespace: str, target: ScaleTarget) -> int | None:
        """The target's scale now, or None when it does not exist (yet)."""
        if target.kind is Kind.DEPLOYMENT:
            scale = self._kube.get(DEPLOYMENTS, namespace, target.name, "scale")
            return None if scale is None else int((scale.get("spec") or {}).get("replicas") or 0)
        app = self._kube.get(SPARK_APPLICATIONS, namespace, target.name)
        return None if app is None else spark_executors(app)

    def set(self, namespace: str, target: ScaleTarget, replicas: int) -> None:
        """Set the target's scale to ``replicas``; KubeError 404 when the target is gone."""
        if target.kind is Kind.DEPLOYMENT:
            self._kube.merge_patch(
                DEPLOYMENTS,
                namespace,
                target.name,
                {"spec": {"replicas": replicas}},
                subresource="scale",
                manager=AUTOSCALER_MANAGER,
            )
            return
        app = self._kube.get(SPARK_APPLICATIONS, namespace, target.name) or {}
        self._kube.merge_patch(
            SPARK_APPLICATIONS,
            namespace,
            target.name,
            spark_patch(app, replicas),
            manager=AUTOSCALER_MANAGER,
        )
