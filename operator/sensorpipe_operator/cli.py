"""``sensorpipe``: the local runner and the small tools around a SensorPipeline manifest.

- ``validate -f FILE``: the API server's checks (the CRD's schema and CEL rules), the
  operator's model and the devices the cluster admin allows; exit 1 naming every offending
  field path.
- ``render -f FILE``: the children the operator would create, as a YAML stream.
- ``run -f FILE``: the whole pipeline on this machine (see ``sensorpipe_operator.local``).
- ``report --work-dir DIR``: the report of a local run.
- ``reset -f FILE``: remove an earlier local run's topics, consumer groups and work directory.

Endpoints default to the environment that ``hack/stack.sh env`` exports, so inside the
project's shell the commands need no flags.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from sensorpipe_operator import crdcheck, device_policy
from sensorpipe_operator.builders import desired_children
from sensorpipe_operator.local.manifest import admit, load, read_document
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.settings import Settings, comma_list

DEFAULT_WORK_DIR = ".cache/local-run"


def _validate(args: argparse.Namespace) -> int:
    if not args.crd.is_file():
        print(f"error: no CRD at {args.crd}: pass --crd crds/sensorpipeline.yaml", file=sys.stderr)
        return 2
    pipeline = admit(read_document(args.file), crdcheck.load_schema(args.crd))
    device_policy.check(pipeline, comma_list(args.allowed_devices))
    print(
        f"{args.file}: SensorPipeline {pipeline.namespace}/{pipeline.name} is valid "
        f"({len(pipeline.streams)} streams, {len(pipeline.gateways)} gateways)"
    )
    return 0


def _render(args: argparse.Namespace) -> int:
    children = desired_children(load(args.file), Settings.from_env().images)
    yaml.safe_dump_all(children, sys.stdout, sort_keys=False)
    return 0


def _run(args: argparse.Namespace) -> int:
    from sensorpipe_operator.local.runner import Run, RunError, RunOptions

    if not args.bootstrap:
        print("error: no Kafka: pass --bootstrap or set KAFKA_BOOTSTRAP", file=sys.stderr)
        return 2
    opts = RunOptions(
        manifest=args.file,
        bootstrap=args.bootstrap,
        work_dir=args.work_dir,
        pg_dsn=args.pg_dsn,
        mqtt_url=args.mqtt_url,
        duration=args.duration,
        dashboard_port=args.dashboard_port,
        firmware_node=args.firmware_node,
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
    from dataclasses import replace

    from sensorpipe_operator.local.reset import ResetError, reset

    if not args.bootstrap:
        print("error: no Kafka: pass --bootstrap or set KAFKA_BOOTSTRAP", file=sys.stderr)
        return 2
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
    from sensorpipe_operator.local import report
    from sensorpipe_operator.local.layout import Layout

    try:
        print(report.write(Layout(args.work_dir.resolve()), args.spark_report))
    except report.ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    env = os.environ
    top = argparse.ArgumentParser(prog="sensorpipe", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("validate", "check a manifest as the API server and the operator would"),
        ("render", "print the children the operator would create"),
        ("run", "run the pipeline on this machine"),
        ("reset", "remove an earlier local run: its topics, consumer groups and work directory"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("-f", "--file", type=Path, required=True, help="SensorPipeline manifest")
        cmd.set_defaults(
            func={"validate": _validate, "render": _render, "run": _run, "reset": _reset}[name]
        )
    sub.choices["validate"].add_argument(
        "--crd",
        type=Path,
        default=Path(env.get("SENSORPIPE_CRD", str(crdcheck.REPO_CRD))),
        help="the SensorPipeline CRD whose schema and CEL rules apply (the chart's crds/)",
    )
    sub.choices["validate"].add_argument(
        "--allowed-devices",
        default=",".join(Settings.from_env(env).allowed_devices),
        help="comma-separated patterns of the serial devices the cluster admin allows (the "
        "chart's devices.allowedPaths); default: SENSORPIPE_ALLOWED_DEVICES or the operator's",
    )
    run = sub.choices["run"]
    for cmd in (run, sub.choices["reset"]):
        cmd.add_argument(
            "--bootstrap", default=env.get("KAFKA_BOOTSTRAP", ""), help="Kafka host:port"
        )
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
        "--drain-timeout",
        type=float,
        default=120.0,
        help="seconds to let Spark catch up after the gateways stop",
    )
    run.add_argument("--no-report", action="store_true")
    rep = sub.add_parser("report", help="write the report of a local run")
    rep.add_argument("--work-dir", type=Path, default=Path(DEFAULT_WORK_DIR))
    for cmd in (run, rep):
        cmd.add_argument(
            "--spark-report",
            action="store_true",
            help="also run sensorpipe-spark's batch report for each day (a Spark session)",
        )
    rep.set_defaults(func=_report)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        code = args.func(args)
    except SpecError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)
