"""``sensorpipe run``: one SensorPipeline on this machine, from topics to report.

The sequence: parse and localise the spec, create the topics with the operator's Admin-API
backend, start Spark, the firmware nodes and the gateways as supervised children, show
progress (and serve the dashboard) until the duration ends or a signal arrives, then stop
in the order that loses nothing: gateways first (they flush), Spark once it has caught up
with what they published, and write the report from what is on Kafka and in the lake.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from confluent_kafka import KafkaException

from sensorpipe_operator import admin_topics, topics
from sensorpipe_operator.kafka_clients import admin_client
from sensorpipe_operator.local import dashboard, measure, plan, progress
from sensorpipe_operator.local.feed import Feed
from sensorpipe_operator.local.layout import READINGS_TABLE, Layout
from sensorpipe_operator.local.localize import LocalOptions, localize
from sensorpipe_operator.local.manifest import load
from sensorpipe_operator.local.measure import TopicOffsets
from sensorpipe_operator.local.supervisor import ChildFailed, Supervisor
from sensorpipe_operator.local.view import PipelineView
from sensorpipe_operator.model.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[3]


class RunError(RuntimeError):
    """The run could not start or keep going; the message says what to do."""


@dataclass(frozen=True)
class RunOptions:
    manifest: Path
    bootstrap: str
    work_dir: Path
    pg_dsn: str = ""
    mqtt_url: str = ""
    duration: float = 0.0  # 0 = until Ctrl-C / SIGTERM
    dashboard_port: int | None = None  # None = no dashboard, 0 = any free port
    firmware_node: str = ""
    progress_interval: float = 3.0
    drain_timeout: float = 120.0
    stop_grace: float = 20.0
    report: bool = True
    spark_report: bool = False  # also run sensorpipe-spark's batch report per day


def _tool(name: str) -> str:
    """An entry point of this environment, preferring the venv this Python runs from."""
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        raise RunError(f"{name} is not installed: run `bash hack/venv.sh`")
    return found


def resolve_tools(pipeline: Pipeline) -> plan.Tools:
    firmware = Path(os.environ.get("SENSORPIPE_FIRMWARE_BUILD", ROOT / "firmware" / "build"))
    sim, elf = firmware / "sensornode-sim", firmware / "sensornode.elf"
    needs_firmware = any(g.source.serial is not None for g in pipeline.gateways)
    if needs_firmware and not (sim.exists() and elf.exists()):
        raise RunError(f"the firmware is not built in {firmware}: run `make -C firmware`")
    return plan.Tools(
        gateway=_tool("sensorpipe-gateway"),
        spark=_tool("sensorpipe-spark"),
        firmware_sim=str(sim),
        firmware_elf=str(elf),
        python=sys.executable,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_topics(pipeline: Pipeline) -> None:
    """The operator's own Admin-API backend, so topics get the same partitions and config."""
    bootstrap = pipeline.kafka.bootstrap_servers
    try:
        states = admin_topics.ensure(
            admin_client({"bootstrap.servers": bootstrap}), topics.desired_topics(pipeline)
        )
    except KafkaException as exc:
        raise RunError(f"cannot reach Kafka at {bootstrap}: {exc}") from None
    failed = [f"{s.name}: {s.detail}" for s in states if not s.ready]
    if failed:
        raise RunError("cannot create topics: " + "; ".join(failed))


class Run:
    """One local run; ``execute`` returns the process exit code."""

    def __init__(self, opts: RunOptions, out: TextIO = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.layout = Layout(opts.work_dir.resolve())
        self.stop = threading.Event()  # first signal or end of duration: wind down
        self.hurry = threading.Event()  # second signal: do not wait for Spark to catch up
        self.pipeline = localize(
            load(opts.manifest),
            LocalOptions(
                bootstrap=opts.bootstrap,
                layout=self.layout,
                pg_dsn=opts.pg_dsn,
                mqtt_url=opts.mqtt_url,
                firmware_node=opts.firmware_node,
            ),
        )
        self.supervisor = Supervisor(self.layout, dict(os.environ))
        self.ports = {g.name: free_port() for g in self.pipeline.gateways}
        self.started = time.monotonic()
        self.snapshot: progress.Snapshot | None = None

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop.is_set():
            self.say(f"{name} again: not waiting for Spark")
            self.hurry.set()
        else:
            self.say(f"{name}: stopping (send it again to skip waiting for Spark)")
            self.stop.set()

    def execute(self) -> int:
        self.layout.create()
        create_topics(self.pipeline)
        children = plan.build(
            self.pipeline, self.layout, resolve_tools(self.pipeline), self.ports, self.opts.pg_dsn
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        offsets = TopicOffsets(self.pipeline.kafka.bootstrap_servers)
        view = PipelineView(self.pipeline.name)
        feed = Feed(self.pipeline, view, self.pipeline.kafka.bootstrap_servers)
        server = None
        try:
            self._start(children)
            if self.opts.dashboard_port is not None:
                feed.start()
                server = dashboard.serve(view, self.opts.dashboard_port)
                self.say(f"dashboard: http://127.0.0.1:{server.server_address[1]}/")
            self._write_run_file(children, server.server_address[1] if server else None)
            self._watch(offsets)
            self.stop.set()
            self.say("stopping gateways")
            # gateways before the firmware they read, so none sees its device vanish
            self.supervisor.stop(kinds=("gateway",), grace=self.opts.stop_grace)
            self.supervisor.stop(kinds=("firmware",), grace=self.opts.stop_grace)
            self._drain(offsets)
        except ChildFailed as exc:
            self.say(f"error: {exc}")
            return 1
        finally:
            self.supervisor.stop(grace=self.opts.stop_grace)
            if server is not None:
                server.shutdown()
                feed.stop()
            offsets.close()
        if self.opts.report:
            from sensorpipe_operator.local import report

            written = report.write(self.layout, self.opts.spark_report)
            # The page's summary, read from Kafka and the lake, so the terminal says the same.
            balance = json.loads((written.parent / "report.json").read_text())["balance"]
            self.say("summary: " + "; ".join(f"{what} {n}" for what, n in balance.items()))
            self.say(f"report: {written}")
        return 0

    def _start(self, children: list[plan.Child]) -> None:
        for child in children:
            running = self.supervisor.start(child)
            self.say(f"started {child.name} (pid {running.proc.pid})")
            self.supervisor.wait_usable(running, timeout=30)

    def _write_run_file(self, children: list[plan.Child], dashboard_port: int | None) -> None:
        from sensorpipe_operator import runtime_config as rc

        doc = {
            "manifest": str(self.opts.manifest.resolve()),
            "pipeline": self.pipeline.name,
            "bootstrap": self.pipeline.kafka.bootstrap_servers,
            "runtimeConfig": rc.render(self.pipeline),
            "gateways": self.ports,
            "dashboardPort": dashboard_port,
            "children": [{"name": c.name, "kind": c.kind, "argv": list(c.argv)} for c in children],
        }
        self.layout.run_file.write_text(json.dumps(doc, indent=2) + "\n")

    def _tick(self, offsets: TopicOffsets) -> progress.Snapshot:
        self.supervisor.check()
        self.snapshot = progress.collect(
            self.pipeline, self.ports, offsets, self.layout.checkpoints, self.started, self.snapshot
        )
        self.layout.status_file.write_text(json.dumps(self.snapshot.to_json(), indent=2) + "\n")
        self.say(progress.render(self.snapshot))
        return self.snapshot

    def _watch(self, offsets: TopicOffsets) -> None:
        """Show progress until the duration is over, a signal arrives or every gateway has
        ended by itself (simulations with a duration)."""
        end = self.started + self.opts.duration if self.opts.duration > 0 else float("inf")
        while not self.stop.is_set() and time.monotonic() < end:
            self._tick(offsets)
            if self.supervisor.all_finished("gateway"):
                self.say("every gateway has ended")
                return
            self.stop.wait(min(self.opts.progress_interval, max(0.0, end - time.monotonic())))

    def _drain(self, offsets: TopicOffsets) -> None:
        """Let Spark finish what the gateways published (bounded; a second signal skips it):
        the ingest query has every reading in the lake (no lag on the stream topics) and the
        queries that read the lake (aggregates, alerts) have reached its latest version."""
        if self.hurry.is_set():
            return
        deadline = time.monotonic() + self.opts.drain_timeout
        readings = Path(self.pipeline.processing.sinks.lake_path) / READINGS_TABLE
        self.say("waiting for Spark to process what was published")
        while not self.hurry.is_set() and time.monotonic() < deadline:
            snap = self._tick(offsets)
            if (
                snap.lag == 0
                and not snap.kafka_error
                and measure.delta_readers_caught_up(self.layout.checkpoints, readings)
            ):
                return
            self.hurry.wait(self.opts.progress_interval)
        if not self.hurry.is_set():
            self.say("Spark did not catch up before the drain timeout; stopping it anyway")
