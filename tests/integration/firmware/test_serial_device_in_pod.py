"""Firmware → pty → gateway pod, without privilege, on the stack's real node.

The firmware under simavr on the host provides a pty; the project's device plugin
(hack/deviceplugin), started here as a host process, advertises it to the node's kubelet as
the resource ``sensorpipe.dev/serial``; the gateway Deployment the operator's builder makes
for a ``serial.resource`` source asks for that resource, mounts no hostPath device and runs
as the builder makes it (non-root, no privilege, no capabilities, read-only root). Its
readings must reach the stream topics in Kafka, every one once and in sequence.

The runtime would let an unprivileged container open a hostPath pty (its default device rules
admit /dev/pts/*), so reading the device alone proves little (hack/README.md): the test shows
the device came through the plugin's allocation, the path a real USB adapter needs. The pod
names no node path, the node advertises the resource only while the plugin runs, and the
plugin reports the allocation of the firmware's pty.
"""

from __future__ import annotations

import grp
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders import desired_children
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.settings import DEFAULT_DEVICE_RESOURCES, Images
from tests.conftest import kubectl, wait_until
from tests.integration.edge.helpers import read_topics
from tests.integration.firmware.conftest import ROOT, Node
from tests.integration.operator.harness import pipeline
from tests.node import REAL_NODE_PLACEMENT, apply, get, wait_ready
from tests.streams import THREE_SENSOR_STREAMS

pytestmark = pytest.mark.integration

RESOURCE = DEFAULT_DEVICE_RESOURCES[0]
CONTAINER_DEVICE = "/dev/ttyS0"
WORLD = {"temperature": 31.5, "humidity": 55.0, "distance": 80.0, "motion": 1}


class DevicePlugin:
    """The project's device plugin as a host process of this test (its pid alone is stopped)."""

    def __init__(self, registry: str, host_path: Path, workdir: Path) -> None:
        build = subprocess.run(
            ["bash", str(ROOT / "hack" / "build-go-tools.sh"), "deviceplugin"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert build.returncode == 0, build.stderr[-3000:]
        config = workdir / "deviceplugin.json"
        group = {"resource": RESOURCE, "hostPaths": [str(host_path)]}
        config.write_text(
            json.dumps(
                {"registryDir": registry, "groups": [{**group, "containerPath": CONTAINER_DEVICE}]}
            )
        )
        self.log = workdir / "deviceplugin.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [build.stdout.strip().splitlines()[-1], "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture
def serial_device(node: Node) -> Path:
    """The firmware's pty as udev leaves a USB serial adapter: group dialout, mode 0660 (the
    emulator makes it root's alone), so the gateway's supplemental group opens it."""
    pts = node.link.resolve()
    os.chown(pts, -1, grp.getgrnam("dialout").gr_gid)
    pts.chmod(0o660)
    return node.link


@pytest.fixture
def device_plugin(
    stack: dict[str, str], serial_device: Path, tmp_path: Path
) -> Iterator[DevicePlugin]:
    plugin = DevicePlugin(stack["NODE_PLUGINS_REGISTRY"], serial_device, tmp_path)
    yield plugin
    plugin.stop()


def allocatable(stack: dict[str, str]) -> str | None:
    value = get("default", "node", stack["NODE_NAME"])["status"]["allocatable"].get(RESOURCE)
    return None if value is None else str(value)


def gateway_children(namespace: str, bootstrap: str, gateway_image: str) -> tuple[Any, list[Any]]:
    """The model and the children the operator would make for a firmware gateway that gets its
    device through the resource: its ServiceAccount, ConfigMap and Deployment."""
    serial = {"device": CONTAINER_DEVICE, "resource": RESOURCE, "baudRate": 115200}
    # Topics are named after the pipeline alone: the namespace's random suffix keeps a rerun's
    # apart from the last run's.
    name = f"fw-{namespace.rsplit('-', 1)[-1]}"
    manifest = pipeline(
        name,
        namespace,
        bootstrap,
        streams=THREE_SENSOR_STREAMS,
        gateways=[
            {"name": "node", "source": {"type": "serial", "serial": serial}, **REAL_NODE_PLACEMENT}
        ],
        consumers=[],
    )
    model = parse(manifest["spec"], name, namespace)
    children = desired_children(model, Images(gateway=gateway_image), topic_api=None)
    wanted = {"ServiceAccount", "ConfigMap", "Deployment"}
    return model, [c for c in children if c["kind"] in wanted]


def test_firmware_readings_reach_kafka_from_an_unprivileged_pod_through_the_device_plugin(
    stack, kube_namespace, node_images, kafka_bootstrap, node, device_plugin
):
    # The node advertises one device only once the plugin has registered with the kubelet.
    wait_until("the node to advertise the device", lambda: allocatable(stack) == "1", 60)

    model, children = gateway_children(
        kube_namespace, stack["POD_KAFKA_BOOTSTRAP"], node_images["childImages.gateway"]
    )
    doc = rc.render(model, model.gateways[0])
    topics = list(doc["topics"]["streams"].values())
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        future.result(30)

    (deployment,) = [c for c in children if c["kind"] == "Deployment"]
    pod_spec = deployment["spec"]["template"]["spec"]
    box = pod_spec["containers"][0]
    # The device arrives only through the resource: no node path, no privilege.
    assert not any("hostPath" in v for v in pod_spec["volumes"]), pod_spec["volumes"]
    assert box["resources"]["limits"][RESOURCE] == "1"
    assert box["securityContext"]["privileged"] is False
    assert box["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod_spec["securityContext"]["runAsNonRoot"] is True

    node.set(**WORLD)
    apply(*children)
    labels = deployment["spec"]["selector"]["matchLabels"]
    selector = ",".join(f"{k}={v}" for k, v in labels.items())

    def running_pod() -> str | None:
        names = kubectl("-n", kube_namespace, "get", "pods", "-l", selector, "-o", "name")
        return names.split()[0].removeprefix("pod/") if names.split() else None

    name = wait_until("the gateway pod", running_pod, 60)
    pod = wait_ready(kube_namespace, name, timeout=180)
    assert pod["spec"]["nodeName"] == stack["NODE_NAME"]
    # The plugin handed over the firmware's pty (a bind mount: see hack/deviceplugin).
    assert f"allocated {node.link} at {CONTAINER_DEVICE} (mounts 1" in device_plugin.log.read_text()

    def shows_world(records: list[dict[str, Any]]) -> bool:
        return any(
            r["stream"] == "climate"
            and r["values"] == {"temperature": WORLD["temperature"], "humidity": WORLD["humidity"]}
            for r in records
        )

    read_topics(kafka_bootstrap, topics, until=shows_world, timeout=120)
    # Stop the gateway (it flushes on SIGTERM), then read everything it wrote.
    kubectl("-n", kube_namespace, "delete", "deployment", deployment["metadata"]["name"])
    wait_until(
        "the gateway pod to go",
        lambda: not kubectl("-n", kube_namespace, "get", "pods", "-l", selector, "-o", "name"),
        90,
    )
    readings = read_topics(kafka_bootstrap, topics)
    assert readings
    assert {r["device_id"] for r in readings} == {"node-01"}
    # Every line the gateway read is in the stream topics once, numbered without a gap from
    # the first it saw (what the firmware sent before the port was opened is lost, as on
    # real hardware).
    seqs = sorted(r["seq"] for r in readings)
    assert seqs == list(range(seqs[0], seqs[-1] + 1)), seqs
