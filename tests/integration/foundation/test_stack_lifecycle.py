"""`hack/stack.sh down` stops everything it started and `up` after `down` works.

Runs a second, independent stack (its own SENSORPIPE_STACK_DIR, its own ports) so the stack
that the other tests share is never disturbed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACK_SH, parse_env
from tests.node import on_real_node

pytestmark = pytest.mark.integration


def run_stack(stack_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENSORPIPE_STACK_DIR": str(stack_dir)}
    return subprocess.run(
        ["bash", str(STACK_SH), *args], capture_output=True, text=True, env=env, check=False
    )


def recorded_pids(stack_dir: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (stack_dir / "pids").glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def sleeper(image: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sleeper", "namespace": "default"},
        "spec": on_real_node(
            {"containers": [{"name": "main", "image": image, "command": ["sleep", "600"]}]}
        ),
    }


def stack_processes(stack_dir: Path) -> list[str]:
    """Processes whose command line names a path of this stack (shims name its socket)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{stack_dir}/" in args:
            found.append(f"{proc.name}: {args[:200]}")
    return found


def shim_pids(stack_dir: Path) -> list[int]:
    """The container shims and init processes containerd recorded for this stack."""
    state = stack_dir / "containerd" / "state" / "io.containerd.runtime.v2.task"
    return [int(f.read_text()) for f in state.glob("*/*/*.pid") if f.read_text().strip()]


def node_leftovers(stack_dir: Path, env: dict[str, str]) -> list[str]:
    """Whatever of the node is still there: mounts under the stack, its network namespace
    and veth, its cgroups."""
    left = [m for m in Path("/proc/self/mounts").read_text().splitlines() if f"{stack_dir}/" in m]
    netns = env["NODE_NETNS"]
    if Path("/var/run/netns", netns).exists():
        left.append(f"netns {netns}")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True)
    veth = "spnode" + netns.rsplit("-", 1)[1]
    if f" {veth}@" in links.stdout:
        left.append(f"veth {veth}")
    left += [str(c) for c in Path("/sys/fs/cgroup").glob(f"*/{netns}") if c.is_dir()]
    return left


def test_down_leaves_nothing_running_and_up_after_down_works(stack, unique_name):
    # Under the project's .cache/, not pytest's private tmp (mode 0700): as root, PostgreSQL
    # runs as the postgres user, who must be able to reach its data directory.
    # A short name: the kubelet's sockets live below the stack and a socket's path has a limit
    # of 107 bytes, whatever the checkout's own path is.
    stack_dir = ROOT / ".cache" / "test-stacks" / f"lc-{unique_name[-6:]}"
    try:
        for round_ in (1, 2):
            up = run_stack(stack_dir, "up")
            assert up.returncode == 0, f"round {round_}: up failed:\n{up.stderr[-4000:]}"
            status = run_stack(stack_dir, "status")
            assert status.returncode == 0, status.stdout
            pids = recorded_pids(stack_dir)
            assert set(pids) == {
                "etcd",
                "apiserver",
                "controller-manager",
                "scheduler",
                "containerd",
                "kubelet",
                "kube-proxy",
                "kwok",
                "kafka",
                "postgres",
                "mosquitto",
            }
            env = parse_env(run_stack(stack_dir, "env").stdout)
            # The second stack is a different cluster from the shared one.
            assert env["KAFKA_BOOTSTRAP"] != stack["KAFKA_BOOTSTRAP"]
            nodes = subprocess.run(
                ["kubectl", "--kubeconfig", env["KUBECONFIG"], "get", "nodes", "-o", "name"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert sorted(nodes.split()) == ["node/kwok-node-0", "node/sensorpipe-node"]
            # A pod on its real node, so that down has containers, mounts and a pod network
            # namespace to clean up.
            kubectl_env = {**os.environ, "KUBECONFIG": env["KUBECONFIG"]}
            subprocess.run(
                ["kubectl", "apply", "-f", "-"],
                input=json.dumps(sleeper(env["NODE_TOOLBOX_IMAGE"])),
                text=True,
                env=kubectl_env,
                check=True,
                capture_output=True,
            )
            subprocess.run(
                ["kubectl", "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s"],
                env=kubectl_env,
                check=True,
                capture_output=True,
            )
            shims = shim_pids(stack_dir)
            assert shims, "the pod's containers have no shim"

            down = run_stack(stack_dir, "down")
            assert down.returncode == 0, down.stderr
            still = {name: pid for name, pid in pids.items() if alive(pid)}
            assert still == {}, f"round {round_}: still running after down: {still}"
            assert not [p for p in shims if alive(p)], "container shims left running"
            assert stack_processes(stack_dir) == [], f"round {round_}: processes left"
            assert node_leftovers(stack_dir, env) == [], f"round {round_}: left behind"
            assert run_stack(stack_dir, "status").returncode == 3
    finally:
        run_stack(stack_dir, "down")
        shutil.rmtree(stack_dir, ignore_errors=True)
