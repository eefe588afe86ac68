"""The firmware under simavr: built once per session, one emulated node per test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.edge.conftest import gateways  # noqa: F401 - shared fixture
from tests.integration.edge.helpers import wait_until

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "firmware" / "build"


@pytest.fixture(scope="session")
def firmware() -> Path:
    """``make -C firmware`` (incremental: a no-op when firmware/build is current)."""
    proc = subprocess.run(
        ["make", "-C", str(ROOT / "firmware")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, (
        f"firmware build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return BUILD


class Node:
    """One sensornode-sim process: the real firmware with sensors the test controls."""

    def __init__(self, build: Path, workdir: Path) -> None:
        self.control = workdir / "node.control"
        self.link = workdir / "ttyNODE"
        self.log = workdir / "node.log"
        self.set(temperature=21.0, humidity=40.0, distance=100.0, motion=0)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(build / "sensornode-sim"),
                    str(build / "sensornode.elf"),
                    "--control",
                    str(self.control),
                    "--link",
                    str(self.link),
                    "--speed",
                    "5",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until("the emulator's pty", lambda: "PTY " in self.log.read_text(), 30, self.log)

    def set(self, **values: object) -> None:
        """Replace the world the sensors see (atomically: the emulator polls the file)."""
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        tmp.replace(self.control)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture
def node(firmware: Path, tmp_path: Path) -> Iterator[Node]:
    n = Node(firmware, tmp_path)
    yield n
    n.stop()
