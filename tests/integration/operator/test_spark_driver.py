"""A real Spark driver under exactly the rights a pipeline's driver gets.

Spark 4.0's Kubernetes scheduler backend runs in client mode on this machine against the local
API server, with a token of the ``<pipeline>-spark`` ServiceAccount that the operator bound to
the chart's ClusterRole, pretending (through ``spark.kubernetes.driver.pod.name``) to be the
driver pod the spark-operator would have started. It reads that pod, creates its executor
ConfigMap and executor pods (kwok runs them; no executor process starts, so none registers),
watches and polls them, and deletes them when it stops. A call the ClusterRole does not allow
shows as a 403 in the API server's audit log or as an error in the driver's log.
1.5 to 2.5 minutes on the loaded 2-core machine (load 13-20), most of it the JVM starting.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sensorpipe_operator.builders.sparkapp import DRIVER_API_CONF
from sensorpipe_operator.kube import Kube

from .harness import (
    can_i,
    create_pipeline,
    pipeline,
    service_account_token,
    wait_for,
)
from .operator_process import OperatorProcess

pytestmark = pytest.mark.integration
DRIVER = Path(__file__).with_name("spark_client_driver.py")
EXECUTORS = 2


def _driver_conf(
    stack: dict[str, str], ns: str, pod: str, account: str, executor_account: str, token: Path
) -> dict[str, str]:
    return {
        "spark.master": f"k8s://{stack['KUBE_APISERVER']}",
        "spark.submit.deployMode": "client",
        "spark.kubernetes.namespace": ns,
        "spark.kubernetes.authenticate.oauthTokenFile": str(token),
        "spark.kubernetes.authenticate.caCertFile": stack["KUBE_CA_FILE"],
        "spark.kubernetes.driver.pod.name": pod,
        # What the spark-operator sets from the SparkApplication's driver.serviceAccount and
        # executor.serviceAccount.
        "spark.kubernetes.authenticate.driver.serviceAccountName": account,
        "spark.kubernetes.authenticate.executor.serviceAccountName": executor_account,
        "spark.kubernetes.container.image": "sensorpipe-spark:test",
        "spark.executor.instances": str(EXECUTORS),
        "spark.executor.memory": "512m",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        # No executor ever registers: do not wait for one before the session is usable.
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "1s",
        **DRIVER_API_CONF,
    }


def _owned_by(obj: Any, uid: str) -> bool:
    return any(ref.uid == uid for ref in obj.metadata.owner_references or [])


def _audit(path: Path, user: str) -> list[dict[str, Any]]:
    """The API server's audit events (writes, see hack/stack.sh) of ``user``."""
    events = []
    for line in path.read_text(errors="replace").splitlines():
        event = json.loads(line)
        if event.get("user", {}).get("username") == user and event.get("stage") == (
            "ResponseComplete"
        ):
            events.append(event)
    return events


@pytest.mark.usefixtures("spark_driver_role")
def test_a_spark_driver_runs_its_executors_within_its_clusterrole(
    admin: Kube,
    stack: dict[str, str],
    kube_namespace: str,
    kafka_bootstrap: str,
    operator: OperatorProcess,
    tmp_path: Path,
) -> None:
    ns, name = kube_namespace, "spk"
    account, executor_account = f"{name}-spark", f"{name}-spark-executor"
    user = f"system:serviceaccount:{ns}:{account}"
    create_pipeline(admin, pipeline(name, ns, kafka_bootstrap))
    wait_for(lambda: can_i(user, "create", "pods", ns), 60, "the driver's RoleBinding", operator)
    core = client.CoreV1Api(admin.api)
    # The driver pod the spark-operator's spark-submit would create, under its own account.
    driver_pod = core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": f"{name}-processing-driver", "labels": {"spark-role": "driver"}},
            "spec": {
                "serviceAccountName": account,
                "containers": [{"name": "spark-kubernetes-driver", "image": "sensorpipe-spark:t"}],
            },
        },
    )
    # the driver's account mounts its token (the executors' check below can fail)
    assert [v for v in driver_pod.spec.volumes if v.name.startswith("kube-api-access")]
    token = tmp_path / "token"
    token.write_text(service_account_token(admin, ns, account))
    conf = _driver_conf(stack, ns, driver_pod.metadata.name, account, executor_account, token)
    out, log = tmp_path / "driver.out", tmp_path / "driver.log"
    with open(out, "w") as stdout, open(log, "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), json.dumps(conf)],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    try:

        def started() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(f"driver exited {proc.returncode}:\n{log.read_text()[-4000:]}")
            words = out.read_text().split()
            return words[1] if words[:1] == ["started"] else None

        app_id = wait_for(started, 300, "the Spark driver to start")
        selector = f"spark-app-selector={app_id},spark-role=executor"

        def executors() -> list[Any] | None:
            pods = core.list_namespaced_pod(ns, label_selector=selector).items
            return pods if len(pods) == EXECUTORS else None

        pods = wait_for(executors, 120, f"{EXECUTORS} executor pods made by the driver")
        for pod in pods:
            # the executors' own account, which mounts no token: they cannot call the API
            assert pod.spec.service_account_name == executor_account
            assert not [
                v for v in pod.spec.volumes or [] if v.name.startswith("kube-api-access")
            ], pod.spec.volumes
            assert _owned_by(pod, driver_pod.metadata.uid)
        (config_map,) = core.list_namespaced_config_map(ns, label_selector=selector).items
        assert _owned_by(config_map, driver_pod.metadata.uid)

        assert proc.stdin is not None
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        assert proc.wait(180) == 0, log.read_text()[-4000:]
        assert out.read_text().split()[-1] == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    wait_for(
        lambda: all(
            p.metadata.deletion_timestamp
            for p in core.list_namespaced_pod(ns, label_selector=selector).items
        ),
        60,
        "the driver deleting its executors",
    )
    assert not core.list_namespaced_config_map(ns, label_selector=selector).items
    writes = _audit(Path(stack["KUBE_AUDIT_LOG"]), user)
    refused = [e for e in writes if e["responseStatus"]["code"] == 403]
    assert not refused, json.dumps(refused[:3], indent=1)
    made = {(e["objectRef"]["resource"], e["verb"]) for e in writes}
    exercised = {(r, v) for r in ("pods", "configmaps") for v in ("create", "deletecollection")}
    assert exercised <= made, made
    errors = [line for line in log.read_text(errors="replace").splitlines() if "Forbidden" in line]
    assert not errors, "\n".join(errors[:5])
