"""``sensorpipe``: the operator's view of a SensorPipeline manifest, without a cluster.

- ``validate -f FILE``: the API server's checks (the CRD's schema and CEL rules), the
  operator's model and the devices the cluster admin allows; exit 1 naming every offending
  field path.
- ``render -f FILE``: the children the operator would create, as a YAML stream.

Running a manifest on this machine is the separate ``sensorpipe-local`` package's command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from sensorpipe_operator import crdcheck, device_policy
from sensorpipe_operator.builders import desired_children
from sensorpipe_operator.manifest import admit, load, read_document
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.settings import Settings, comma_list


def _validate(args: argparse.Namespace) -> int:
    if not args.crd.is_file():
        print(f"error: no CRD at {args.crd}: pass --crd crds/sensorpipeline.yaml", file=sys.stderr)
        return 2
    pipeline = admit(read_document(args.file), crdcheck.load_schema(args.crd))
    device_policy.check(
        pipeline, comma_list(args.allowed_devices), comma_list(args.allowed_device_resources)
    )
    print(
        f"{args.file}: SensorPipeline {pipeline.namespace}/{pipeline.name} is valid "
        f"({len(pipeline.streams)} streams, {len(pipeline.gateways)} gateways)"
    )
    return 0


def _render(args: argparse.Namespace) -> int:
    children = desired_children(load(args.file), Settings.from_env().images)
    yaml.safe_dump_all(children, sys.stdout, sort_keys=False)
    return 0


def parser() -> argparse.ArgumentParser:
    env = os.environ
    top = argparse.ArgumentParser(prog="sensorpipe", description=__doc__.split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("validate", "check a manifest as the API server and the operator would"),
        ("render", "print the children the operator would create"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("-f", "--file", type=Path, required=True, help="SensorPipeline manifest")
        cmd.set_defaults(func={"validate": _validate, "render": _render}[name])
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
    sub.choices["validate"].add_argument(
        "--allowed-device-resources",
        default=",".join(Settings.from_env(env).allowed_device_resources),
        help="comma-separated patterns of the device plugin resources the cluster admin allows "
        "(the chart's devices.allowedResources); default: SENSORPIPE_ALLOWED_DEVICE_RESOURCES "
        "or the operator's",
    )
    return top


def run(top: argparse.ArgumentParser, argv: list[str] | None = None) -> None:
    """Run the subcommand ``argv`` names and exit with its code; a spec it cannot use is one
    line naming the file and the field, not a traceback (``sensorpipe-local`` too)."""
    args = top.parse_args(argv)
    try:
        code = args.func(args)
    except SpecError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    run(parser(), argv)
