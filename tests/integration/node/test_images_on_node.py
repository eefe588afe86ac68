"""The project's three images, built here with no registry, run on the real node the way the
chart and the operator's builders run them: as their non-root user, with a read-only root
filesystem, no capabilities and RuntimeDefault seccomp. Each entry point must answer."""

from __future__ import annotations

import pytest

from tests.conftest import kubectl
from tests.node import apply, pod, wait_phase

pytestmark = pytest.mark.integration

# The contract package is in the gateway and Spark images, the operator's Kubernetes stack not.
CONTRACT_ONLY = (
    "import importlib.util as u, sensorpipe_contract.runtime as r; "
    "print('contract', r.VERSION, [m for m in ('kopf', 'kubernetes') if u.find_spec(m)])"
)

# image (a key of node_images), the command to run, what its output must say
ENTRY_POINTS = [
    ("image", ["sensorpipe-operator", "--help"], "usage: sensorpipe-operator"),
    ("childImages.gateway", ["sensorpipe-gateway", "--help"], "usage: sensorpipe-gateway"),
    ("childImages.gateway", ["sensorpipe-sim", "--help"], "usage: sensorpipe-sim"),
    ("childImages.spark", ["spark-submit", "--version"], "version"),
    (
        "childImages.spark",
        [
            "python3",
            "-c",
            "import sensorpipe_spark, pyspark, delta; print('job imports', pyspark.__version__)",
        ],
        "job imports",
    ),
    ("childImages.gateway", ["python3", "-c", CONTRACT_ONLY], "contract 1 []"),
    ("childImages.spark", ["python3", "-c", CONTRACT_ONLY], "contract 1 []"),
]


def image_ref(node_images: dict[str, str], key: str) -> str:
    if key == "image":
        return f"{node_images['image.repository']}:{node_images['image.tag']}"
    return node_images[key]


@pytest.mark.parametrize(("key", "command", "says"), ENTRY_POINTS)
def test_each_entry_point_answers_on_the_node(node_images, kube_namespace, key, command, says):
    container = {
        "name": "main",
        "image": image_ref(node_images, key),
        "command": command,
        # Spark and the JVM want a writable temporary directory; the root stays read-only.
        "env": [{"name": "HOME", "value": "/tmp"}],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    spec = {
        "restartPolicy": "Never",
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    manifest = pod(kube_namespace, "entry", spec)
    # The uid the image declares: the pod's securityContext leaves it to the image.
    del manifest["spec"]["containers"][0]["securityContext"]["runAsUser"]
    apply(manifest)
    done = wait_phase(kube_namespace, "entry", {"Succeeded", "Failed"}, timeout=240)
    log = kubectl("-n", kube_namespace, "logs", "entry")
    assert done["status"]["phase"] == "Succeeded", log[-3000:]
    assert says in log, log[-3000:]
    # runAsNonRoot: the kubelet itself refuses to start a container whose user is root.
    assert done["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] is True
