"""Session fixtures that give every integration and e2e test the real local services.

The stack (hack/stack.sh) is brought up once per test session and taken down at the end,
but only if this session started it: a developer who keeps the stack up by hand, or
several test sessions sharing one machine, are left alone. A service that does not come
up fails the session with its log tail; nothing is ever skipped for a missing service.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK_SH = ROOT / "hack" / "stack.sh"
# The kubernetes client and kopf read $KUBECONFIG when they are imported, before any fixture
# runs; point it at the stack's admin kubeconfig (a fixed path) now, unless the caller chose one.
os.environ.setdefault(
    "KUBECONFIG",
    str(
        Path(os.environ.get("SENSORPIPE_STACK_DIR", ROOT / ".cache" / "stack")) / "admin.kubeconfig"
    ),
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that asks for the ``helm`` fixture, directly or through another
    fixture, so that ``make test-unit`` (``-m "unit and not helm"``) runs on a bare venv."""
    for item in items:
        if "helm" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.helm)


def _stack(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", str(STACK_SH), *args], capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"hack/stack.sh {' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}",
            pytrace=False,
        )
    return proc


def pinned_versions() -> dict[str, str]:
    """The versions `hack/versions.env` pins, which set-up builds and downloads."""
    text = (ROOT / "hack" / "versions.env").read_text()
    return dict(re.findall(r"^(\w+)=(\S+)$", text, re.MULTILINE))


def parse_env(text: str) -> dict[str, str]:
    """The variables of `hack/stack.sh env`, which prints `export NAME='value'` lines."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"export (\w+)='([^']*)'(.*)$", line)
        if m:
            env[m.group(1)] = m.group(2) + (
                os.environ.get("PATH", "") if m.group(3) == '"$PATH"' else ""
            )
    return env


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, str]]:
    """The running local services, as the environment `hack/stack.sh env` exports.

    With SENSORPIPE_EXTERNAL_CLUSTER=1 (hack/kind-e2e.sh sets it) the suites run against the
    cluster that $KUBECONFIG names instead, and endpoints come from the environment.
    """
    if os.environ.get("SENSORPIPE_EXTERNAL_CLUSTER"):
        if not os.environ.get("KUBECONFIG"):
            pytest.fail("SENSORPIPE_EXTERNAL_CLUSTER is set but KUBECONFIG is not", pytrace=False)
        yield dict(os.environ)
        return
    already_up = _stack("status", check=False).returncode == 0
    if already_up:
        _stack("crds")
    else:
        _stack("up")
    env = parse_env(_stack("env").stdout)
    os.environ.update(env)
    try:
        yield env
    finally:
        if not already_up and not os.environ.get("SENSORPIPE_KEEP_STACK"):
            _stack("down", check=False)


def _endpoint(stack: dict[str, str], name: str) -> str:
    if not stack.get(name):
        pytest.fail(f"{name} is not set (an external cluster needs it exported)", pytrace=False)
    return stack[name]


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: dict[str, str]) -> str:
    return _endpoint(stack, "KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def pg_dsn(stack: dict[str, str]) -> str:
    return _endpoint(stack, "PG_DSN")


@pytest.fixture(scope="session")
def mqtt_url(stack: dict[str, str]) -> str:
    return _endpoint(stack, "MQTT_URL")


@pytest.fixture(scope="session")
def kubeconfig(stack: dict[str, str]) -> str:
    return _endpoint(stack, "KUBECONFIG")


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A short name (DNS-1123 label) that no other test, nor a rerun of this one, uses."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:30].strip("-")
    return f"{base}-{secrets.token_hex(3)}"


def wait_until(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    interval: float = 0.5,
    tail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``check`` until it returns something truthy and return that; fail naming ``what``,
    the last value seen and, from ``tail``, what the component under test logged. Every
    suite waits through this one loop, on conditions, never on fixed sleeps; the interval is
    only the polling cadence."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    context = f"\n{tail()}" if tail else ""
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){context}"
    )


def kubectl(*args: str, input_: str | None = None, check: bool = True) -> str:
    """Run the stack's kubectl as admin; on failure the test fails with kubectl's stderr."""
    proc = subprocess.run(
        ["kubectl", *args], capture_output=True, text=True, input=input_, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture
def kube_namespace(stack: dict[str, str], unique_name: str) -> Iterator[str]:
    """A fresh namespace for one test, deleted (without waiting) when the test ends."""
    ns = unique_name
    kubectl("create", "namespace", ns)
    try:
        yield ns
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)


CHILD_IMAGE_KINDS = ("gateway", "consumer", "spark")


def child_images(node_images: dict[str, str]) -> dict[str, str]:
    """The chart's ``childImages`` values (gateway, consumer, spark) among ``node_images``."""
    return {kind: node_images[f"childImages.{kind}"] for kind in CHILD_IMAGE_KINDS}


@pytest.fixture(scope="session")
def node_images(stack: dict[str, str]) -> dict[str, str]:
    """The project's images, built here by hack/images.sh (no registry) and loaded into the
    real node's containerd, as the chart values that name them: ``image.repository``,
    ``image.tag``, ``childImages.gateway``, ``childImages.consumer``, ``childImages.spark``."""
    images_sh = ROOT / "hack" / "images.sh"
    for args in (["load", stack["CONTAINERD_ADDRESS"]], ["tags"]):
        proc = subprocess.run(
            ["bash", str(images_sh), *args], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            pytest.fail(
                f"hack/images.sh {args[0]} failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}",
                pytrace=False,
            )
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def kafka_restart(stack: dict[str, str]) -> Callable[[float], None]:
    """Stop the real Kafka broker, keep it down for `downtime` seconds, start it again.

    Its data directory is kept, so the restart is what a broker outage looks like.
    """

    def restart(downtime: float = 0.0) -> None:
        _stack("down", "kafka")
        if downtime:
            time.sleep(downtime)
        _stack("up", "kafka")

    return restart


@pytest.fixture(scope="session")
def service_control(stack: dict[str, str]) -> Callable[[str, str], None]:
    """`service_control("down"|"up", name)` for fault tests on any stack service."""

    def control(action: str, name: str) -> None:
        assert action in {"up", "down"}, action
        _stack(action, name)

    return control
