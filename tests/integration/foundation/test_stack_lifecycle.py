"""`hack/stack.sh down` stops everything it started and `up` after `down` works.

Runs a second, independent stack (its own SENSORPIPE_STACK_DIR, its own ports) so the stack
that the other tests share is never disturbed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACK_SH, parse_env

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


def test_down_leaves_nothing_running_and_up_after_down_works(stack, unique_name):
    # Under the project's .cache/, not pytest's private tmp (mode 0700): as root, PostgreSQL
    # runs as the postgres user, who must be able to reach its data directory.
    stack_dir = ROOT / ".cache" / "test-stacks" / unique_name
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
            assert nodes.strip() == "node/kwok-node-0"

            down = run_stack(stack_dir, "down")
            assert down.returncode == 0, down.stderr
            still = {name: pid for name, pid in pids.items() if alive(pid)}
            assert still == {}, f"round {round_}: still running after down: {still}"
            assert run_stack(stack_dir, "status").returncode == 3
    finally:
        run_stack(stack_dir, "down")
        shutil.rmtree(stack_dir, ignore_errors=True)
