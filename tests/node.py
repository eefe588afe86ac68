"""Pods placed on the stack's real node (hack/node.sh), shaped as the chart's pods are.

The real node is tainted ``sensorpipe.dev/node=real:NoSchedule`` so that only pods which ask
for it run there; these helpers are how a test asks. Every pod gets the Pod Security
"restricted" context the chart and the builders declare: non-root, read-only root
filesystem, no capabilities, RuntimeDefault seccomp.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import kubectl, wait_until

REAL_NODE_SELECTOR = {"sensorpipe.dev/node": "real"}
REAL_NODE_TOLERATION = {
    "key": "sensorpipe.dev/node",
    "operator": "Equal",
    "value": "real",
    "effect": "NoSchedule",
}
# What a pipeline's gateway or consumer spec sets to run on the real node, and what sets one
# on kwok's fake node (for the benchmarks' hundreds of pods, which nothing claims run).
REAL_NODE_PLACEMENT = {"nodeSelector": REAL_NODE_SELECTOR, "tolerations": [REAL_NODE_TOLERATION]}
KWOK_PLACEMENT = {"nodeSelector": {"type": "kwok"}}
RESTRICTED = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def on_real_node(pod_spec: dict[str, Any], uid: int = 65534) -> dict[str, Any]:
    """``pod_spec`` bound to the real node, every container restricted and run as ``uid``."""
    containers = [
        {
            "imagePullPolicy": "Never",
            **c,
            "securityContext": {**RESTRICTED, "runAsUser": uid, **c.get("securityContext", {})},
        }
        for c in pod_spec["containers"]
    ]
    return {
        "automountServiceAccountToken": False,
        **pod_spec,
        "containers": containers,
        "nodeSelector": REAL_NODE_SELECTOR,
        "tolerations": [REAL_NODE_TOLERATION],
    }


def apply(*objects: dict[str, Any]) -> None:
    kubectl(
        "apply",
        "-f",
        "-",
        input_=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )


def pod(namespace: str, name: str, spec: dict[str, Any], **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": on_real_node(spec),
    }


def get(namespace: str, kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl("-n", namespace, "get", kind, name, "-o", "json")))


def wait_phase(namespace: str, name: str, phases: set[str], timeout: float = 120) -> dict[str, Any]:
    """The pod once its phase is one of ``phases``; on timeout, its status and events."""

    def reached() -> dict[str, Any] | None:
        obj = get(namespace, "pod", name)
        return obj if obj.get("status", {}).get("phase") in phases else None

    try:
        return dict(wait_until(f"pod {name} to be {sorted(phases)}", reached, timeout))
    except AssertionError as e:
        events = kubectl("-n", namespace, "get", "events", "-o", "wide", check=False)
        status = json.dumps(get(namespace, "pod", name).get("status"), indent=1)
        raise AssertionError(f"{e}\nstatus: {status}\nevents:\n{events[-3000:]}") from None


def wait_ready(namespace: str, name: str, timeout: float = 120) -> dict[str, Any]:
    """The pod once Running with its Ready condition True."""
    wait_phase(namespace, name, {"Running"}, timeout)

    def ready() -> dict[str, Any] | None:
        obj = get(namespace, "pod", name)
        conds = {c["type"]: c["status"] for c in obj["status"].get("conditions", [])}
        return obj if conds.get("Ready") == "True" else None

    return dict(wait_until(f"pod {name} Ready", ready, timeout))
