"""Prometheus metrics of the operator: reconciles, their errors and durations, writes to
children, and how many children and pipelines of each kind and phase exist."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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


def count_write(kind: str, verb: str) -> None:
    CHILD_WRITES.labels(kind=kind, verb=verb).inc()


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (0 disables it, for tests that run several operators)."""
    if port:
        start_http_server(port)
