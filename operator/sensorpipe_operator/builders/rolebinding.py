"""The RoleBinding that gives the Spark driver's ServiceAccount the chart's ClusterRole
``sensorpipe-spark-driver`` (charts/sensorpipe/files/spark-driver-rules.yaml) in the pipeline's
namespace: the driver creates, watches and deletes its executor pods through the API.

A RoleBinding to a shared ClusterRole, rather than a Role per pipeline, keeps the operator from
holding the driver's rights itself: Kubernetes lets it write this binding because it has the
``bind`` verb on that one ClusterRole, and it can bind nothing else.
"""

from __future__ import annotations

from typing import Any

from sensorpipe_operator.builders.common import metadata, service_account_name
from sensorpipe_operator.model.pipeline import Pipeline

SPARK_DRIVER_CLUSTER_ROLE = "sensorpipe-spark-driver"
RBAC_GROUP = "rbac.authorization.k8s.io"


def build(pipeline: Pipeline) -> dict[str, Any]:
    account = service_account_name(pipeline, "spark")
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": metadata(pipeline, account, "rolebinding", "spark"),
        "roleRef": {
            "apiGroup": RBAC_GROUP,
            "kind": "ClusterRole",
            "name": SPARK_DRIVER_CLUSTER_ROLE,
        },
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": pipeline.namespace}],
    }
