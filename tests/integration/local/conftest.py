"""Fixtures of the local runner's tests: a small pipeline manifest and the commands' paths
(the operator's ``sensorpipe`` for validate and render, ``sensorpipe-local`` for the rest)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import yaml

from sensorpipe_contract.identity import API_VERSION, KIND
from tests.streams import THREE_SENSOR_STREAMS

SENSORPIPE = str(Path(sys.executable).parent / "sensorpipe")
SENSORPIPE_LOCAL = str(Path(sys.executable).parent / "sensorpipe-local")

# Small enough for a 2-core machine shared with other suites: three simulated devices every
# half second for ten seconds (the gateway then ends by itself, which the runner must take as
# normal), few Spark triggers, ten-second windows so aggregates close during a short run,
# and a threshold that the firmware node's 22.5 °C crosses so alerts are raised.
SPEC: dict[str, object] = {
    "kafka": {
        "bootstrapServers": "set-by-the-runner:9092",
        "topicBackend": "admin",
        "topicDefaults": {"partitions": 1, "replicas": 1},
    },
    "streams": copy.deepcopy(THREE_SENSOR_STREAMS),
    "gateways": [
        {
            "name": "sim",
            "source": {
                "type": "simulated",
                "simulated": {"devices": 3, "interval": "500ms", "duration": "10s"},
            },
        }
    ],
    "processing": {
        "triggerInterval": "5s",
        "window": "10s",
        "watermark": "5s",
        "alerts": {
            "thresholds": [
                {"name": "warm", "stream": "climate", "field": "temperature", "above": 15}
            ]
        },
    },
}


def write_manifest(path: Path, name: str, spec: dict[str, object] | None = None) -> Path:
    doc = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": spec if spec is not None else SPEC,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def command(program: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``program`` (SENSORPIPE or SENSORPIPE_LOCAL) with ``args``, its output captured."""
    return subprocess.run(
        [program, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
