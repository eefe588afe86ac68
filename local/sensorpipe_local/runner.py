"""``sensorpipe-local run``: one SensorPipeline on this machine, from topics to report.

The sequence: parse and localise the spec, create the topics with the operator's Admin-API
backend, start Spark, the firmware nodes and the gateways as supervised children, show
progress (and serve the dashboard) until the duration ends or a signal arrives, then stop
in the order that loses nothing: gateways first (they flush), Spark once it has caught up
with what they published, and write the report from what is on Kafka and in the lake.
"""

from __future__ import annotations

import functools
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

from sensorpipe_local import dashboard, probes, processes, progress, summary
from sensorpipe_local.feed import Feed
from sensorpipe_local.localize import LocalOptions, localize
from sensorpipe_local.probes import TopicOffsets
from sensorpipe_local.supervisor import ChildFailed, Supervisor
from sensorpipe_local.view import PipelineView
from sensorpipe_local.workdir import AGGREGATES_TABLE, READINGS_TABLE, WorkDir
from sensorpipe_operator import admin_topics, topics
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.kafka_clients import admin_client
from sensorpipe_operator.manifest import load
from sensorpipe_operator.model.pipeline import Pipeline

# Where `make -C firmware` put the simulated node (the repository's firmware/build): the
# package cannot know where a checkout is, so a run with a firmware node is told.
FIRMWARE_BUILD_ENV = "SENSORPIPE_FIRMWARE_BUILD"


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
    firmware_build: Path | None = None  # holds sensornode-sim and sensornode.elf
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
        raise RunError(
            f"{name} is not installed: install sensorpipe-local[pipeline] (in the repository: "
            "`bash hack/venv.sh`)"
        )
    return found


def resolve_tools(pipeline: Pipeline, firmware: Path | None) -> processes.Tools:
    """The programs the run starts; the firmware's only when a gateway reads a serial node."""
    sim = elf = ""
    if any(g.source.serial is not None for g in pipeline.gateways):
        if firmware is None:
            raise RunError(
                "a gateway reads the firmware node, but where that is built is not known: pass "
                f"--firmware-build DIR or set {FIRMWARE_BUILD_ENV} (`make -C firmware` builds "
                "it in the repository's firmware/build)"
            )
        sim, elf = str(firmware / "sensornode-sim"), str(firmware / "sensornode.elf")
        if not (Path(sim).exists() and Path(elf).exists()):
            raise RunError(f"the firmware is not built in {firmware}: run `make -C firmware`")
    return processes.Tools(
        gateway=_tool("sensorpipe-gateway"),
        spark=_tool("sensorpipe-spark"),
        firmware_sim=sim,
        firmware_elf=elf,
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
        self.workdir = WorkDir(opts.work_dir.resolve())
        self.stop = threading.Event()  # first signal or end of duration: wind down
        self.hurry = threading.Event()  # second signal: do not wait for Spark to catch up
        self.pipeline = localize(
            load(opts.manifest),
            LocalOptions(
                bootstrap=opts.bootstrap,
                workdir=self.workdir,
                pg_dsn=opts.pg_dsn,
                mqtt_url=opts.mqtt_url,
                firmware_node=opts.firmware_node,
            ),
        )
        self.supervisor = Supervisor(self.workdir, dict(os.environ))
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
        tools = resolve_tools(self.pipeline, self.opts.firmware_build)  # before making anything
        self.workdir.create()
        create_topics(self.pipeline)
        children = processes.build(
            self.pipeline,
            self.workdir,
            tools,
            self.ports,
            self.opts.pg_dsn,
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        offsets = TopicOffsets(self.pipeline.kafka.bootstrap_servers)
        fields = summary.declared_fields(rc.render(self.pipeline)["streams"])
        view = PipelineView(self.pipeline.name, [(f.name, f.label) for f in fields])
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
            from sensorpipe_local import run_report

            written = run_report.write(self.workdir, self.opts.spark_report)
            # The page's summary, read from Kafka and the lake, so the terminal says the same.
            balance = json.loads((written.parent / "report.json").read_text())["balance"]
            self.say("summary: " + "; ".join(f"{what} {n}" for what, n in balance.items()))
            self.say(f"report: {written}")
        return 0

    def _start(self, children: list[processes.Child]) -> None:
        for child in children:
            running = self.supervisor.start(child)
            self.say(f"started {child.name} (pid {running.proc.pid})")
            self.supervisor.wait_usable(running, timeout=30)

    def _write_run_file(self, children: list[processes.Child], dashboard_port: int | None) -> None:
        doc = {
            "manifest": str(self.opts.manifest.resolve()),
            "pipeline": self.pipeline.name,
            "bootstrap": self.pipeline.kafka.bootstrap_servers,
            "runtimeConfig": rc.render(self.pipeline),
            "gateways": self.ports,
            "dashboardPort": dashboard_port,
            "children": [{"name": c.name, "kind": c.kind, "argv": list(c.argv)} for c in children],
        }
        self.workdir.run_file.write_text(json.dumps(doc, indent=2) + "\n")

    def _tick(self, offsets: TopicOffsets) -> progress.Snapshot:
        self.supervisor.check()
        self.snapshot = progress.collect(
            self.pipeline, self.ports, offsets, self.started, self.snapshot
        )
        self.workdir.status_file.write_text(json.dumps(self.snapshot.to_json(), indent=2) + "\n")
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
        the ingest query has every reading in the lake (its committed offsets leave no lag on
        the stream topics) and the aggregates query, which streams from the lake, has
        finished a batch since the readings were last written. The alerts query reads Kafka
        beside the ingest query and publishes no position, so the drain cannot wait for it:
        alerts it would raise after the stop are not in the report."""
        if self.hurry.is_set():
            return
        deadline = time.monotonic() + self.opts.drain_timeout
        lake = Path(self.pipeline.processing.sinks.lake_path)
        published_since = (
            functools.partial(offsets.written_since, self.pipeline.aggregates_topic)
            if self.pipeline.processing.sinks.aggregates_topic
            else None
        )
        self.say("waiting for Spark to process what was published")
        while not self.hurry.is_set() and time.monotonic() < deadline:
            snap = self._tick(offsets)
            try:
                if (
                    snap.lag == 0
                    and not snap.kafka_error
                    and probes.aggregates_caught_up(
                        lake / READINGS_TABLE, lake / AGGREGATES_TABLE, published_since
                    )
                ):
                    return
            except KafkaException as exc:  # the broker went away; the next tick says so
                self.say(f"cannot read the aggregates topic: {exc}")
            self.hurry.wait(self.opts.progress_interval)
        if not self.hurry.is_set():
            self.say("Spark did not catch up before the drain timeout; stopping it anyway")
