"""``sensorpipe-operator`` as a real process, as the operator's suites and benchmark run it:
under a ServiceAccount's kubeconfig, watching some namespaces, creating its children from the
images built here, and killed the hard way when a test needs a crash."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import child_images, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_image_env(node_images: Mapping[str, str]) -> dict[str, str]:
    """The operator's child images as the chart passes them (``childImages`` values to
    environment variables): the images built here and loaded into the real node, so that the
    pods it creates run there. Empty leaves the operator's defaults, for kwok's fake pods."""
    if not node_images:
        return {}
    return {
        f"SENSORPIPE_{kind.upper()}_IMAGE": image
        for kind, image in child_images(dict(node_images)).items()
    }


class OperatorProcess:
    """``sensorpipe-operator`` as a real process watching some namespaces, so that tests can
    kill it the hard way and start it again."""

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: list[str],
        log: Path,
        resync: float = 1.0,
        extra: tuple[str, ...] = (),
        images: Mapping[str, str] | None = None,
    ):
        self.kubeconfig, self.namespaces, self.log = kubeconfig, namespaces, log
        self.resync, self.extra = resync, extra
        self.images = images or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_url = ""

    def start(self) -> OperatorProcess:
        port, metrics = free_port(), free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics}/metrics"
        args = [sys.executable, "-m", "sensorpipe_operator.main", "--metrics-port", str(metrics)]
        args += [
            "--resync-seconds",
            str(self.resync),
            "--liveness",
            f"http://127.0.0.1:{port}/healthz",
        ]
        for ns in self.namespaces:
            args += ["--namespace", ns]
        args += self.extra
        env = {
            **os.environ,
            **child_image_env(self.images),
            "KUBECONFIG": str(self.kubeconfig),
            "SENSORPIPE_LOG_LEVEL": "INFO",
        }
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until(
            "operator liveness endpoint",
            lambda: self._healthy(port),
            90,
            interval=0.2,
            tail=lambda: f"operator log:\n{self.tail()}",
        )
        return self

    def _healthy(self, port: int) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a crash or an OOM kill would be."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 60) -> str:
        if not self.log.exists():
            return "<no operator log>"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
