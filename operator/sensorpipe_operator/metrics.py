"""Prometheus metrics of the operator: reconciles, their errors and durations, writes to
children, how many children and pipelines of each kind and phase exist, whether each pipeline
is Ready (what the chart's alert rules watch), and the build."""

from __future__ import annotations

import platform
from contextlib import suppress
from importlib.metadata import version

from prometheus_client import Counter, Gauge, Histogram, Info, start_http_server

RECONCILES = Counter(
    "sensorpipe_reconciles_total", "Reconciliations of a pipeline.", ["trigger", "result"]
)
RECONCILE_SECONDS = Histogram(
    "sensorpipe_reconcile_duration_seconds", "Time one reconciliation took.", ["trigger"]
)
CHILD_WRITES = Counter(
    "sensorpipe_child_writes_total", "API writes to children, by kind and verb.", ["kind", "verb"]
)
CHILDREN = Gauge("sensorpipe_children", "Children known to the operator, by kind.", ["kind"])
PIPELINES = Gauge("sensorpipe_pipelines", "Pipelines, by phase.", ["phase"])
LOOP_RUNS = Counter(
    "sensorpipe_loop_runs_total",
    "Runs of a periodic job (resync, scaling) for one pipeline.",
    ["job"],
)
PIPELINE_READY = Gauge(
    "sensorpipe_pipeline_ready", "1 while a pipeline is Ready, else 0.", ["namespace", "pipeline"]
)
BUILD = Info("sensorpipe_build", "The running build: component, version and Python.")
BUILD.info(
    {
        "component": "operator",
        "version": version("sensorpipe-operator"),
        "python": platform.python_version(),
    }
)


def pipeline_phase(namespace: str, name: str, phase: str | None) -> None:
    """Per-pipeline readiness; ``None`` drops the series of a pipeline that is gone."""
    if phase is not None:
        PIPELINE_READY.labels(namespace, name).set(1 if phase == "Ready" else 0)
        return
    with suppress(KeyError):  # never reported (deleted before its first status)
        PIPELINE_READY.remove(namespace, name)


def count_write(kind: str, verb: str) -> None:
    CHILD_WRITES.labels(kind=kind, verb=verb).inc()


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (0 disables it, for tests that run several operators)."""
    if port:
        start_http_server(port)
