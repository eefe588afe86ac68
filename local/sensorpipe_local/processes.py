"""The child processes of a local run, as data: what to start, with which config and env.

Pure: the localised model in, a list of ``Child`` out. The documents come from the
operator's own ``runtime_config.render`` (a gateway's with its ``gateway`` block, Spark's
without), so a local run reads exactly what a pod would read from its ConfigMap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sensorpipe_local.workdir import WorkDir
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.workloads import Gateway

SPARK_CHILD = "spark"
DEFAULT_SPARK_MASTER = "local[2]"
# The world the firmware node's sensors report until someone edits the control file.
FIRMWARE_WORLD = {"temperature": "22.5", "humidity": "45", "distance": "120", "motion": "0"}


@dataclass(frozen=True)
class Tools:
    """Where the programs the runner starts live (resolved once by the runner)."""

    gateway: str
    spark: str
    firmware_sim: str
    firmware_elf: str
    python: str  # the interpreter of Spark's Python workers: the runner's own environment


@dataclass(frozen=True)
class Child:
    name: str
    kind: str  # firmware | gateway | spark
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None  # written to the work dir before the start
    files: dict[Path, str] = field(default_factory=dict)  # other files to write before it
    wait_for: Path | None = None  # a path the child creates once it is usable


def gateway_child(name: str) -> str:
    return f"gateway-{name}"


def firmware_child(name: str) -> str:
    return f"firmware-{name}"


def firmware_control_text() -> str:
    return "".join(f"{k}={v}\n" for k, v in FIRMWARE_WORLD.items())


def _firmware(gateway: Gateway, workdir: WorkDir, tools: Tools) -> Child:
    return Child(
        name=firmware_child(gateway.name),
        kind="firmware",
        argv=(
            tools.firmware_sim,
            tools.firmware_elf,
            "--control",
            str(workdir.firmware_control(gateway.name)),
            "--link",
            str(workdir.firmware_tty(gateway.name)),
            "--speed",
            "1",
        ),
        files={workdir.firmware_control(gateway.name): firmware_control_text()},
        wait_for=workdir.firmware_tty(gateway.name),
    )


def _gateway(
    pipeline: Pipeline, gateway: Gateway, workdir: WorkDir, tools: Tools, port: int
) -> Child:
    name = gateway_child(gateway.name)
    return Child(
        name=name,
        kind="gateway",
        argv=(tools.gateway, "--config", str(workdir.config(name))),
        env={
            "KAFKA_BOOTSTRAP": pipeline.kafka.bootstrap_servers,
            "SENSORPIPE_SPOOL_DIR": str(workdir.spool(gateway.name)),
            "SENSORPIPE_HTTP_PORT": str(port),
        },
        config=rc.render(pipeline, gateway),
    )


def spark_env(master: str, python: str) -> dict[str, str]:
    """What every local Spark process needs: the master, and Python workers from the same
    environment as the driver (else they run whatever ``python3`` is first on PATH)."""
    return {"SENSORPIPE_SPARK_MASTER": master, "PYSPARK_PYTHON": python}


def _spark(pipeline: Pipeline, workdir: WorkDir, tools: Tools, pg_dsn: str, master: str) -> Child:
    env = spark_env(master, tools.python)
    if pipeline.processing.sinks.postgres is not None:
        env[rc.PG_DSN_ENV] = pg_dsn
    return Child(
        name=SPARK_CHILD,
        kind="spark",
        argv=(tools.spark, "stream", "--config", str(workdir.config(SPARK_CHILD))),
        env=env,
        config=rc.render(pipeline),
    )


def build(
    pipeline: Pipeline,
    workdir: WorkDir,
    tools: Tools,
    ports: dict[str, int],
    pg_dsn: str = "",
    spark_master: str = DEFAULT_SPARK_MASTER,
) -> list[Child]:
    """Children in start order: Spark first (its JVM takes longest to come up), then each
    firmware node before the gateway that reads its pty, then the gateways."""
    children = [_spark(pipeline, workdir, tools, pg_dsn, spark_master)]
    for gw in pipeline.gateways:
        if gw.source.serial is not None:
            children.append(_firmware(gw, workdir, tools))
        children.append(_gateway(pipeline, gw, workdir, tools, ports[gw.name]))
    return children
