"""``sensorpipe-local``: one SensorPipeline manifest run on this machine, without Kubernetes.

- ``run -f FILE``: the whole pipeline here: topics, Spark, gateways, dashboard, report.
- ``report --work-dir DIR``: the report of a local run, again, from its work directory.
- ``reset -f FILE``: remove an earlier local run's topics, consumer groups and work directory.

Endpoints default to the environment that ``hack/stack.sh env`` exports, so inside the
project's shell the commands need no flags. The firmware node (``--firmware-node``) runs the
firmware built in ``--firmware-build`` (default ``$SENSORPIPE_FIRMWARE_BUILD``).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from sensorpipe_local import run_report
from sensorpipe_local.reset import ResetError, reset
from sensorpipe_local.runner import FIRMWARE_BUILD_ENV, Run, RunError, RunOptions
from sensorpipe_local.workdir import WorkDir
from sensorpipe_operator import cli
from sensorpipe_operator.manifest import load

DEFAULT_WORK_DIR = ".cache/local-run"


def _no_kafka() -> int:
    print("error: no Kafka: pass --bootstrap or set KAFKA_BOOTSTRAP", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    if not args.bootstrap:
        return _no_kafka()
    opts = RunOptions(
        manifest=args.file,
        bootstrap=args.bootstrap,
        work_dir=args.work_dir,
        pg_dsn=args.pg_dsn,
        mqtt_url=args.mqtt_url,
        duration=args.duration,
        dashboard_port=args.dashboard_port,
        firmware_node=args.firmware_node,
        firmware_build=args.firmware_build,
        drain_timeout=args.drain_timeout,
        report=not args.no_report,
        spark_report=args.spark_report,
    )
    try:
        return Run(opts).execute()
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _reset(args: argparse.Namespace) -> int:
    if not args.bootstrap:
        return _no_kafka()
    pipeline = load(args.file)
    pipeline = replace(pipeline, kafka=replace(pipeline.kafka, bootstrap_servers=args.bootstrap))
    try:
        removed = reset(pipeline, args.work_dir.resolve())
    except ResetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(f"removed {what}" for what in removed) or "nothing to remove")
    return 0


def _report(args: argparse.Namespace) -> int:
    try:
        print(run_report.write(WorkDir(args.work_dir.resolve()), args.spark_report))
    except run_report.ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    env = os.environ
    top = argparse.ArgumentParser(prog="sensorpipe-local", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipeline on this machine")
    reset_cmd = sub.add_parser(
        "reset", help="remove an earlier local run: its topics, consumer groups and work directory"
    )
    rep = sub.add_parser("report", help="write the report of a local run")
    for cmd, func in ((run, _run), (reset_cmd, _reset)):
        cmd.add_argument("-f", "--file", type=Path, required=True, help="SensorPipeline manifest")
        cmd.add_argument(
            "--bootstrap", default=env.get("KAFKA_BOOTSTRAP", ""), help="Kafka host:port"
        )
        cmd.set_defaults(func=func)
    for cmd in (run, reset_cmd, rep):
        cmd.add_argument("--work-dir", type=Path, default=Path(DEFAULT_WORK_DIR))
    run.add_argument("--pg-dsn", default=env.get("PG_DSN", ""), help="PostgreSQL DSN")
    run.add_argument("--mqtt-url", default=env.get("MQTT_URL", ""), help="MQTT broker URL")
    run.add_argument("--duration", type=float, default=0.0, help="seconds; 0 = until Ctrl-C")
    run.add_argument("--dashboard-port", type=int, default=None, help="0 = any free port")
    run.add_argument(
        "--firmware-node",
        default="",
        help="add a serial gateway of this name fed by the firmware under simavr",
    )
    run.add_argument(
        "--firmware-build",
        type=Path,
        default=Path(env[FIRMWARE_BUILD_ENV]) if env.get(FIRMWARE_BUILD_ENV) else None,
        help="the folder holding sensornode-sim and sensornode.elf (`make -C firmware` builds "
        f"them in firmware/build); default ${FIRMWARE_BUILD_ENV}",
    )
    run.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to let Spark catch up after the gateways stop",
    )
    run.add_argument("--no-report", action="store_true")
    for cmd in (run, rep):
        cmd.add_argument(
            "--spark-report",
            action="store_true",
            help="also run sensorpipe-spark's batch report for each day (a Spark session)",
        )
    rep.set_defaults(func=_report)
    return top


def main(argv: list[str] | None = None) -> None:
    cli.run(parser(), argv)
