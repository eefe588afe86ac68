"""The chart installed for real: the operator as a pod on the stack's real node, from the
images built here, with in-cluster configuration, the chart's ServiceAccount and RBAC, its
probes and its metrics; gateways that the operator creates as real pods publishing to Kafka.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from deploy.render import CHART
from sensorpipe_operator.kube import PIPELINES
from tests.conftest import kubectl, wait_until
from tests.integration.edge.helpers import read_topics, seqs_by_device
from tests.integration.operator.harness import resource
from tests.node import REAL_NODE_PLACEMENT

from .conftest import Release, helm, install

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def release(stack: dict[str, str], node_images: dict[str, str]) -> Iterator[Release]:
    """The chart in a namespace of its own, on the real node, watching that namespace."""
    suffix = secrets.token_hex(3)
    rel = Release(f"real{suffix}", f"real-node-{suffix}", f"real-node-{suffix}")
    kubectl("create", "namespace", rel.namespace)
    try:
        install(
            rel,
            node_images,
            "--set", "watch.scope=namespaces",
            "--set", f"watch.namespaces[0]={rel.namespace}",
        )  # fmt: skip
        yield rel
    finally:
        helm("uninstall", rel.name, "-n", rel.namespace, "--wait", check=False)
        kubectl("delete", "namespace", rel.namespace, "--wait=false", check=False)


def operator_pods(rel: Release) -> list[dict[str, Any]]:
    out = kubectl(
        "-n", rel.namespace, "get", "pods", "-o", "json",
        "-l", f"app.kubernetes.io/instance={rel.name}",
    )  # fmt: skip
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def operator_log(rel: Release) -> str:
    return kubectl("-n", rel.namespace, "logs", f"deploy/{rel.fullname}", "--tail=60", check=False)


def ready_operator_pod(rel: Release, timeout: float = 180) -> dict[str, Any]:
    def one_ready() -> dict[str, Any] | None:
        pods = operator_pods(rel)
        if len(pods) != 1:
            return None
        conds = {c["type"]: c["status"] for c in pods[0]["status"].get("conditions", [])}
        return pods[0] if conds.get("Ready") == "True" else None

    try:
        return dict(wait_until("one Ready operator pod", one_ready, timeout))
    except AssertionError as e:
        raise AssertionError(f"{e}\noperator log:\n{operator_log(rel)}") from None


def scrape_metrics(rel: Release) -> str:
    """GET /metrics through the chart's metrics Service, by `kubectl port-forward`."""
    proc = subprocess.Popen(
        ["kubectl", "-n", rel.namespace, "port-forward", f"svc/{rel.fullname}-metrics", ":9090"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "Forwarding from 127.0.0.1:PORT -> 9090"
        port = line.split("127.0.0.1:", 1)[1].split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as r:
            return str(r.read().decode())
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_operator_runs_as_a_pod_on_the_real_node(stack, release):
    pod = ready_operator_pod(release)
    assert pod["spec"]["nodeName"] == stack["NODE_NAME"]
    assert pod["spec"]["serviceAccountName"] == release.fullname
    container = pod["status"]["containerStatuses"][0]
    assert container["ready"]
    assert container["restartCount"] == 0, operator_log(release)
    metrics = scrape_metrics(release)
    assert "sensorpipe_" in metrics, metrics[:2000]


def simulated_pipeline(name: str, namespace: str, bootstrap: str) -> dict[str, Any]:
    return resource(
        PIPELINES,
        name,
        namespace,
        {
            "kafka": {
                "bootstrapServers": bootstrap,
                "topicBackend": "admin",
                "topicDefaults": {"partitions": 2, "replicas": 1},
            },
            "streams": [
                {
                    "name": "climate",
                    "fields": [{"name": "temperature", "unit": "Cel", "min": -40, "max": 80}],
                }
            ],
            "gateways": [
                {
                    "name": "sim",
                    "source": {
                        "type": "simulated",
                        "simulated": {"devices": 3, "interval": "500ms"},
                    },
                    **REAL_NODE_PLACEMENT,
                }
            ],
        },
    )


def test_gateway_pods_publish_readings_to_kafka(stack, release, kafka_bootstrap):
    ready_operator_pod(release)
    name = f"sim-{secrets.token_hex(2)}"
    manifest = simulated_pipeline(name, release.namespace, stack["POD_KAFKA_BOOTSTRAP"])
    kubectl("apply", "-f", "-", input_=json.dumps(manifest))

    def gateways_ready() -> dict[str, Any] | None:
        body = json.loads(kubectl("-n", release.namespace, "get", "sp", name, "-o", "json"))
        conds = {c["type"]: c for c in body.get("status", {}).get("conditions", [])}
        cond = conds.get("GatewaysReady")
        return cond if cond and cond["status"] == "True" else None

    try:
        wait_until("GatewaysReady", gateways_ready, 240)
    except AssertionError as e:
        pods = kubectl("-n", release.namespace, "get", "pods", "-o", "wide", check=False)
        raise AssertionError(
            f"{e}\npods:\n{pods}\noperator log:\n{operator_log(release)}"
        ) from None
    pods = json.loads(
        kubectl(
            "-n",
            release.namespace,
            "get",
            "pods",
            "-o",
            "json",
            "-l",
            f"iot.sensorpipe.dev/pipeline={name}",
        )
    )["items"]
    gateways = [p for p in pods if p["status"].get("phase") == "Running"]
    assert gateways, pods
    assert all(p["spec"]["nodeName"] == stack["NODE_NAME"] for p in gateways)

    topic = f"{name}.climate"

    def enough(records: list[dict[str, Any]]) -> bool:
        by_device = seqs_by_device(records)
        return len(by_device) == 3 and all(len(c) >= 5 for c in by_device.values())

    records = read_topics(kafka_bootstrap, [topic], until=enough, timeout=120)
    for device, seqs in seqs_by_device(records).items():
        got = sorted(seqs)
        assert got == list(range(got[0], got[0] + len(got))), f"{device}: gaps in {got}"
        assert all(n == 1 for n in seqs.values()), f"{device}: doubled {seqs}"


def test_helm_upgrade_with_a_changed_value_rolls_the_operator_pod(release):
    before = ready_operator_pod(release)["metadata"]["uid"]
    helm(
        "upgrade", release.name, str(CHART), "-n", release.namespace, "--reuse-values",
        "--set", "operator.logLevel=DEBUG", "--wait", "--timeout", "180s",
    )  # fmt: skip
    after = ready_operator_pod(release)
    assert after["metadata"]["uid"] != before
    env = {e["name"]: e.get("value") for e in after["spec"]["containers"][0].get("env", [])}
    assert env.get("SENSORPIPE_LOG_LEVEL") == "DEBUG"


def test_helm_uninstall_leaves_no_operator_pod(release):
    ready_operator_pod(release)
    helm("uninstall", release.name, "-n", release.namespace, "--wait", "--timeout", "120s")
    wait_until("no operator pod", lambda: not operator_pods(release), 120)
