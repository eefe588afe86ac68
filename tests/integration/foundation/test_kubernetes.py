"""The local control plane behaves like a real cluster: workloads run, validation and RBAC bite."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import kubectl, pinned_versions, wait_until

pytestmark = pytest.mark.integration

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: registry.example/web:1.0}
"""


def test_version_is_the_pinned_release(stack):
    version = json.loads(kubectl("version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == pinned_versions()["KUBERNETES_VERSION"]


def test_deployment_becomes_available_through_kwok(kube_namespace):
    ns = kube_namespace
    kubectl("-n", ns, "create", "configmap", "settings", "--from-literal=a=1")
    assert json.loads(kubectl("-n", ns, "get", "configmap", "settings", "-o", "json"))["data"] == {
        "a": "1"
    }
    kubectl("-n", ns, "apply", "-f", "-", input_=DEPLOYMENT)

    def available():
        d = json.loads(kubectl("-n", ns, "get", "deployment", "web", "-o", "json"))
        return d.get("status", {}).get("availableReplicas") == 2

    wait_until("deployment web to have 2 available replicas", available, timeout=180)
    pods = json.loads(kubectl("-n", ns, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    assert len(pods) == 2
    assert {p["status"]["phase"] for p in pods} == {"Running"}
    assert {p["spec"]["nodeName"] for p in pods} == {"kwok-node-0"}


def test_server_side_dry_run_refuses_an_invalid_object(kube_namespace):
    bad = DEPLOYMENT.replace("replicas: 2", "replicas: -3")
    proc = subprocess.run(
        ["kubectl", "-n", kube_namespace, "apply", "--dry-run=server", "-f", "-"],
        input=bad,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "spec.replicas" in proc.stderr
    # Dry-run of a valid object passes and creates nothing.
    kubectl("-n", kube_namespace, "apply", "--dry-run=server", "-f", "-", input_=DEPLOYMENT)
    assert kubectl("-n", kube_namespace, "get", "deployments", "-o", "name") == ""


def test_rbac_limits_a_service_account_to_its_role(kube_namespace):
    ns = kube_namespace
    kubectl("-n", ns, "create", "serviceaccount", "reader")
    kubectl("-n", ns, "create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps")
    kubectl(
        "-n",
        ns,
        "create",
        "rolebinding",
        "reader",
        "--role=cm-reader",
        f"--serviceaccount={ns}:reader",
    )
    kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v")
    token = kubectl("-n", ns, "create", "token", "reader").strip()
    as_reader = ["--token", token]

    def can_i(verb: str, resource: str) -> str:
        proc = subprocess.run(
            ["kubectl", *as_reader, "-n", ns, "auth", "can-i", verb, resource],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip()

    assert can_i("list", "configmaps") == "yes"
    assert can_i("get", "secrets") == "no"
    assert can_i("create", "configmaps") == "no"
    kubectl(*as_reader, "-n", ns, "get", "configmaps")
    denied = subprocess.run(
        ["kubectl", *as_reader, "-n", ns, "get", "secret", "s"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
