"""Starting and stopping the runner's own child processes.

Each child runs in its own session (so its own process group): a signal to the group
reaches the child and whatever it started (Spark's JVM under pyspark, for instance) and
nothing else. Pids go to the work dir so that a person, or a test, can see what runs. The
stop is SIGTERM to every group, then SIGKILL to whatever outlived the grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sensorpipe_local.processes import Child
from sensorpipe_local.workdir import WorkDir

LOG_TAIL_BYTES = 4000


class ChildFailed(RuntimeError):
    """A child exited while the run needed it; the message carries its log's tail."""


def log_tail(path: Path, size: int = LOG_TAIL_BYTES) -> str:
    """The end of a child's log, preceded by its last Python traceback when that is not in
    the end already: a JVM's stack traces can push the cause out of the tail."""
    try:
        text = path.read_bytes().decode(errors="replace")
    except OSError:
        return ""
    tail = text[-size:]
    start = text.rfind("Traceback (most recent call last)")
    if start < 0 or start >= len(text) - size:
        return tail
    return f"{text[start : start + size]}\n[...]\n{tail}"


@dataclass
class Running:
    child: Child
    proc: subprocess.Popen[bytes]


class Supervisor:
    def __init__(self, workdir: WorkDir, base_env: dict[str, str]) -> None:
        self._layout = workdir
        self._base_env = base_env
        self.running: list[Running] = []
        self.finished: list[Running] = []

    def start(self, child: Child) -> Running:
        workdir = self._layout
        if child.config is not None:
            workdir.config(child.name).write_text(json.dumps(child.config, indent=2) + "\n")
        for path, text in child.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if child.wait_for is not None:
            child.wait_for.parent.mkdir(parents=True, exist_ok=True)
            child.wait_for.unlink(missing_ok=True)  # left by an earlier run in this work dir
        with workdir.log(child.name).open("ab") as log:
            proc = subprocess.Popen(
                child.argv,
                env={**self._base_env, **child.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        workdir.pid(child.name).write_text(f"{proc.pid}\n")
        running = Running(child, proc)
        self.running.append(running)
        return running

    def wait_usable(self, running: Running, timeout: float) -> None:
        """Block until the child's ``wait_for`` path exists (a pty link, for instance)."""
        path = running.child.wait_for
        deadline = time.monotonic() + timeout
        while path is not None and not path.exists():
            self.check()
            if time.monotonic() > deadline:
                raise ChildFailed(
                    f"{running.child.name} did not create {path} within {timeout:.0f}s:\n"
                    f"{log_tail(self._layout.log(running.child.name))}"
                )
            time.sleep(0.1)

    def check(self) -> None:
        """Raise ChildFailed if a child has exited, except a gateway that ended cleanly: a
        simulation with a duration ends its gateway, and that is the run going as planned."""
        for r in list(self.running):
            code = r.proc.poll()
            if code == 0 and r.child.kind == "gateway":
                self._layout.pid(r.child.name).unlink(missing_ok=True)
                self.running.remove(r)
                self.finished.append(r)
            elif code is not None:
                raise ChildFailed(
                    f"{r.child.name} exited with code {code}; its log ends with:\n"
                    f"{log_tail(self._layout.log(r.child.name))}"
                )

    def all_finished(self, kind: str) -> bool:
        """Whether children of ``kind`` were started and every one has ended cleanly."""
        return bool(self.finished) and all(r.child.kind != kind for r in self.running)

    def stop(self, kinds: tuple[str, ...] | None = None, grace: float = 20.0) -> None:
        """SIGTERM the chosen children's groups, SIGKILL them after ``grace`` seconds."""
        chosen = [r for r in self.running if kinds is None or r.child.kind in kinds]
        for r in chosen:
            _signal_group(r.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for r in chosen:
            try:
                r.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(r.proc, signal.SIGKILL)
                r.proc.wait()
            # the group may hold grandchildren that outlive their parent (a JVM)
            _signal_group(r.proc, signal.SIGKILL)
            self._layout.pid(r.child.name).unlink(missing_ok=True)
            self.running.remove(r)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
