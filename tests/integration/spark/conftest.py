"""Fixtures of the Spark tests: only the services Spark uses, one SparkSession per session.

The Spark tests need Kafka and PostgreSQL, not the Kubernetes control plane, so `stack` is
narrowed here to `hack/stack.sh up kafka postgres` (a no-op when they already run): the
suite does not wait for a control plane it never talks to. It never stops a service; the
stack is shared.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from sensorpipe_spark import session
from tests.conftest import STACK_SH, parse_env

SERVICES = ("kafka", "postgres")


def _stack(*args: str) -> str:
    proc = subprocess.run(
        ["bash", str(STACK_SH), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"hack/stack.sh {' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{proc.stderr[-6000:]}",
            pytrace=False,
        )
    return proc.stdout


@pytest.fixture(scope="session")
def stack() -> dict[str, str]:
    """Kafka and PostgreSQL running, and the environment `hack/stack.sh env` exports."""
    _stack("up", *SERVICES)
    env = parse_env(_stack("env"))
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def spark(stack: dict[str, str]) -> Iterator[SparkSession]:
    """Spark in local mode with the stack's Kafka connector and Delta jars."""
    assert stack.get("SENSORPIPE_SPARK_JARS"), "hack/stack.sh env exports no SENSORPIPE_SPARK_JARS"
    s = session.build("sensorpipe-tests", "local[2]")
    yield s
    s.stop()
