"""What the long-running commands share: ``--config``, logging, and stopping on a signal."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading


def config_argument(description: str | None, argv: list[str] | None) -> str | None:
    """Parse ``--config`` (default: $SENSORPIPE_CONFIG, read by the caller) and set up
    logging at $SENSORPIPE_LOG_LEVEL."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", help="runtime config JSON (default $SENSORPIPE_CONFIG)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SENSORPIPE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config: str | None = args.config
    return config


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop
