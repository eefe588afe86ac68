"""``sensorpipe-operator``: runs the kopf operator with health, metrics, JSON logs, and either
cluster-wide or namespace-scoped watching, standalone or with peering.

Flags override the environment of docs/contracts.md §5, so the chart can use either.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
from collections.abc import Sequence
from typing import Any, cast

import kopf

from sensorpipe_operator import handlers, metrics, peering
from sensorpipe_operator.kube import Kube
from sensorpipe_operator.scaling import handlers as _scaling  # noqa: F401
from sensorpipe_operator.settings import Settings


class _QuietRoutine(logging.Filter):
    """Drops kopf's "handler succeeded" line for the routine handlers (every watch event
    would log one); failures and everything else still pass."""

    ROUTINE = re.compile(r"^Handler '(pipeline|scaling-pipelines|child-\w+)' succeeded\.$")

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.ROUTINE.match(record.getMessage())


def _args(argv: Sequence[str] | None, env: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sensorpipe-operator", description=__doc__)
    parser.add_argument(
        "--namespace",
        action="append",
        default=None,
        help="watch this namespace (repeatable); default: SENSORPIPE_WATCH_NAMESPACES or all",
    )
    parser.add_argument(
        "--peering", default=env.peering, help="kopf peering name; empty = standalone"
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help="peering priority, the highest live replica acts; "
        "default: SENSORPIPE_PEERING_PRIORITY or random",
    )
    parser.add_argument(
        "--liveness", default=None, help="health endpoint, e.g. http://0.0.0.0:8081/healthz"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=env.metrics_port, help="0 disables /metrics"
    )
    parser.add_argument("--resync-seconds", type=float, default=env.resync_seconds)
    parser.add_argument(
        "--log-level", default=env.log_level, choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    return parser.parse_args(argv)


def own_identity() -> str:
    """The name this process uses among its peers. kopf would take it from the user name,
    which a non-root uid without a passwd entry (the image's 10001, or one a platform
    assigns) does not have: the operator pod then crashed at start."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}/{os.getpid()}"


def main(argv: Sequence[str] | None = None) -> None:
    env = Settings.from_env()
    args = _args(argv, env)
    namespaces = tuple(args.namespace) if args.namespace else env.watch_namespaces
    settings = Settings(
        images=env.images,
        watch_namespaces=namespaces,
        peering=args.peering,
        metrics_port=args.metrics_port,
        log_level=args.log_level,
        resync_seconds=args.resync_seconds,
        allowed_devices=env.allowed_devices,
        allowed_device_resources=env.allowed_device_resources,
    )
    kopf.configure(
        verbose=settings.log_level == "DEBUG",
        quiet=settings.log_level in ("WARNING", "ERROR"),
        log_format=kopf.LogFormat.JSON,
        log_refkey="object",
    )
    root = logging.getLogger()
    root.setLevel(settings.log_level)
    for handler in root.handlers:
        handler.addFilter(_QuietRoutine())
    priority = args.priority
    if priority is None:
        priority = int(os.environ.get("SENSORPIPE_PEERING_PRIORITY") or peering.default_priority())
    handlers.register(settings, priority=priority)
    metrics.serve(settings.metrics_port)
    logging.getLogger(__name__).info(
        "starting: namespaces=%s peering=%s pid=%d",
        ",".join(namespaces) or "<all>",
        settings.peering or "<standalone>",
        os.getpid(),
    )
    if settings.peering:
        peering.ensure_objects(Kube.from_environment().api, settings.peering, namespaces)
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=not settings.peering,
        peering_name=settings.peering or None,
        priority=priority,
        liveness_endpoint=args.liveness,
        # kopf types it as its Identity, a NewType of str that its public API does not export.
        identity=cast(Any, own_identity()),
    )


if __name__ == "__main__":
    main()
