"""The stack's real node runs real pods: a kubelet with containerd and runc, reached by the
API server for logs and exec with the stack's certificates, Services routed by kube-proxy,
and the stack's Kafka and PostgreSQL answering pods on the node's host address.

The pods run the node's toolbox image (Debian's static busybox), or the operator image where
a real TLS client is needed, as uid 65534 with a read-only root filesystem.
"""

from __future__ import annotations

import base64
import ipaddress
import struct
from typing import Any

import pytest

from tests.conftest import kubectl, pinned_versions
from tests.node import apply, get, pod, wait_phase, wait_ready

pytestmark = pytest.mark.integration


def toolbox(stack: dict[str, str], *command: str, **extra: Any) -> dict[str, Any]:
    return {"name": "main", "image": stack["NODE_TOOLBOX_IMAGE"], "command": list(command), **extra}


def test_a_pod_runs_to_completion_and_its_log_is_read(stack, kube_namespace):
    spec = {
        "restartPolicy": "Never",
        "containers": [toolbox(stack, "sh", "-c", "echo hello from $(hostname) as $(id -u)")],
    }
    apply(pod(kube_namespace, "hello", spec))
    done = wait_phase(kube_namespace, "hello", {"Succeeded", "Failed"})
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["spec"]["nodeName"] == stack["NODE_NAME"]
    pod_cidr = get("default", "node", stack["NODE_NAME"])["spec"]["podCIDR"]
    assert ipaddress.ip_address(done["status"]["podIP"]) in ipaddress.ip_network(pod_cidr)
    assert kubectl("-n", kube_namespace, "logs", "hello").strip() == "hello from hello as 65534"


def test_exec_into_a_running_pod(stack, kube_namespace):
    apply(pod(kube_namespace, "sleeper", {"containers": [toolbox(stack, "sleep", "3600")]}))
    wait_ready(kube_namespace, "sleeper")
    out = kubectl("-n", kube_namespace, "exec", "sleeper", "--", "sh", "-c", "echo $((6 * 7))")
    assert out.strip() == "42"
    # The root filesystem is read-only, as the restricted context declares.
    touched = kubectl(
        "-n", kube_namespace, "exec", "sleeper", "--", "sh", "-c", "touch /x 2>&1; echo rc=$?"
    )
    assert "Read-only file system" in touched
    assert "rc=1" in touched


def test_a_service_ip_routes_to_a_pod(stack, kube_namespace):
    serve = "echo served by $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"
    server = toolbox(
        stack,
        "sh",
        "-c",
        serve,
        ports=[{"containerPort": 8080}],
        readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
        volumeMounts=[{"name": "www", "mountPath": "/www"}],
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": kube_namespace},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    web = pod(
        kube_namespace,
        "web",
        {"containers": [server], "volumes": [{"name": "www", "emptyDir": {}}]},
        app="web",
    )
    apply(web, service)
    wait_ready(kube_namespace, "web")
    ip = get(kube_namespace, "service", "web")["spec"]["clusterIP"]
    log = run_to_completion(
        kube_namespace, "client", toolbox(stack, "wget", "-qO-", f"http://{ip}/")
    )
    assert "served by web" in log


# A pod's way to the API: the `kubernetes` Service's address from the environment, the server's
# certificate checked against the ServiceAccount's CA, its token as the credential. (busybox's
# wget cannot talk TLS to this API server: it lacks the extended master secret that Go's TLS
# asks for, so the client is the operator image's Python.)
IN_CLUSTER_VERSION = """
import json, os, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
token = open(f"{sa}/token").read()
request = urllib.request.Request(
    f"https://{host}:{port}/version", headers={"Authorization": f"Bearer {token}"}
)
context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
print(json.load(urllib.request.urlopen(request, context=context, timeout=10))["gitVersion"])
"""


def test_pods_reach_the_api_through_the_kubernetes_service(kube_namespace, node_images):
    image = f"{node_images['image.repository']}:{node_images['image.tag']}"
    client = {"name": "main", "image": image, "command": ["python3", "-c", IN_CLUSTER_VERSION]}
    log = run_to_completion(kube_namespace, "api-client", client, automountServiceAccountToken=True)
    assert log.strip() == pinned_versions()["KUBERNETES_VERSION"]


def run_to_completion(namespace: str, name: str, container: dict[str, Any], **spec: Any) -> str:
    """Run one container to its end on the node; its log, after asserting it succeeded."""
    apply(pod(namespace, name, {"restartPolicy": "Never", "containers": [container], **spec}))
    done = wait_phase(namespace, name, {"Succeeded", "Failed"})
    log = kubectl("-n", namespace, "logs", name)
    assert done["status"]["phase"] == "Succeeded", log
    return log


def kafka_api_versions_request() -> bytes:
    """Kafka's ApiVersions v0 request (api key 18), correlation id 7, client id "node"."""
    body = struct.pack(">hhih", 18, 0, 7, 4) + b"node"
    return struct.pack(">i", len(body)) + body


def postgres_startup() -> bytes:
    """PostgreSQL's protocol 3.0 start-up message for user postgres, database sensorpipe."""
    params = b"user\0postgres\0database\0sensorpipe\0\0"
    return struct.pack(">ii", 8 + len(params), 196608) + params


def test_a_pod_reaches_kafka_and_postgresql_on_the_stack(stack, kube_namespace):
    kafka_host, kafka_port = stack["POD_KAFKA_BOOTSTRAP"].rsplit(":", 1)
    pg = stack["POD_PG_DSN"].split("@", 1)[1].split("/", 1)[0]
    pg_host, pg_port = pg.rsplit(":", 1)

    def exchange(data: bytes, host: str, port: str) -> str:
        b64 = base64.b64encode(data).decode()
        dump = "od -An -tx1 -N 16 | tr -d ' \\n'; echo"
        return f"echo {b64} | base64 -d | nc -w 5 {host} {port} | {dump}"

    script = (
        exchange(kafka_api_versions_request(), kafka_host, kafka_port)
        + " && "
        + exchange(postgres_startup(), pg_host, pg_port)
    )
    spec = {"restartPolicy": "Never", "containers": [toolbox(stack, "sh", "-c", script)]}
    apply(pod(kube_namespace, "reach", spec))
    done = wait_phase(kube_namespace, "reach", {"Succeeded", "Failed"})
    kafka_answer, pg_answer = kubectl("-n", kube_namespace, "logs", "reach").split()[:2]
    assert done["status"]["phase"] == "Succeeded"
    # Kafka: a length, then our correlation id 7 and error code 0 (NONE).
    assert kafka_answer[8:20] == "000000070000", kafka_answer
    # PostgreSQL: 'R' (authentication), length 8, code 0: AuthenticationOk for the node's address.
    assert pg_answer[:18] == "520000000800000000", pg_answer
