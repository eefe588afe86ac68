"""The streaming job commits what it has processed to `<pipeline>.spark`, and the operator's
autoscaler measures Spark's lag from those commits (docs/contracts.md §6).

The job runs as its own process, started the way the SparkApplication starts it (the file
`sensorpipe_spark/main.py`), and drains what is in Kafka. Afterwards the group's committed
offsets must equal the topics' end offsets on every partition, and the autoscaler's own
measurement (`sensorpipe_operator.scaling.lag`) must see exactly the readings sent after
the job stopped as lag.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sensorpipe_contract.naming import spark_group
from sensorpipe_operator.kafka_clients import admin_client
from sensorpipe_operator.scaling.lag import LagReader
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration

DEVICES = ("c1", "c2", "c3")
STEP = 10_000


def readings(first: int, count: int) -> list[dict[str, Any]]:
    """``count`` climate and motion readings of every device from sequence ``first`` on."""
    out = []
    for i in range(first, first + count):
        for d in DEVICES:
            t = h.T0 + i * STEP
            out.append(h.reading(d, "climate", i, t, {"temperature": 21.0, "humidity": 40.0}))
            out.append(h.reading(f"m{d}", "motion", i, t, {"motion": i % 2 == 0}))
    return out


def test_job_commits_its_end_offsets_and_the_autoscaler_measures_them(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    name = f"spo-{secrets.token_hex(3)}"
    doc = h.pipeline_doc(name, kafka_bootstrap, str(tmp_path / "lake"), str(tmp_path / "ck"), None)
    cfg_path = tmp_path / "pipeline.json"
    cfg_path.write_text(json.dumps(doc))
    h.create_topics(kafka_bootstrap, h.topics_of(doc))
    sent = h.produce_readings(kafka_bootstrap, name, readings(0, 40))
    stream_topics = list(doc["topics"]["streams"].values())
    reader = LagReader(admin_client({"bootstrap.servers": kafka_bootstrap}), timeout=30)
    group = spark_group(name)
    assert all(p.committed is None for p in reader.snapshot(group, stream_topics).partitions)

    log = tmp_path / "job.log"
    env = {**os.environ, "SENSORPIPE_SPARK_MASTER": "local[2]"}
    with log.open("wb") as out:
        job = subprocess.run(
            [sys.executable, str(h.MAIN), "stream", "--config", str(cfg_path), "--available-now"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=840,
            check=False,
        )
    assert job.returncode == 0, log.read_text()[-4000:]

    done = reader.snapshot(group, stream_topics)
    assert done.reachable, done.error
    # 3 stream topics of 2 partitions; distance carries nothing but is measured all the same.
    assert len(done.partitions) == 6
    assert sum(p.end for p in done.partitions) == sent
    assert [(p.topic, p.partition, p.committed) for p in done.partitions] == [
        (p.topic, p.partition, p.end) for p in done.partitions
    ]
    assert done.total_lag == 0

    more = h.produce_readings(kafka_bootstrap, name, readings(40, 5))
    behind = reader.snapshot(group, stream_topics)
    assert behind.total_lag == more
    assert {(p.topic, p.partition): p.committed for p in behind.partitions} == {
        (p.topic, p.partition): p.committed for p in done.partitions
    }
