"""Kill -9 the streaming job mid-stream, start it again: nothing lost, nothing doubled.

The job runs as its own process, started the way the SparkApplication starts it (the file
`sensorpipe_spark/main.py`), on a one-second trigger while readings keep arriving. Once its
ingest and aggregate queries have committed work it is killed with SIGKILL in the middle of
the next batches, more readings (and a replay) are sent, and the job is started again from
the same checkpoints until it has drained Kafka.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sensorpipe_spark import config, schema, streaming
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration

DEVICES = ("c1", "c2", "c3")
STEP = 10_000
CHUNK = 30  # five minutes of event time per chunk, well inside the ten-minute watermark


def chunk(k: int) -> list[dict[str, Any]]:
    """Readings of every device, in event-time order, for the k-th five minutes."""
    return [
        h.reading(
            d,
            "climate",
            i,
            h.T0 + i * STEP,
            {"temperature": 20.0 + (i % 9) * 0.25 + j, "humidity": 50.0 + i % 4},
        )
        for i in range(k * CHUNK, (k + 1) * CHUNK)
        for j, d in enumerate(DEVICES)
    ]


def committed(ck: Path, query: str) -> int:
    commits = ck / query / "commits"
    return len([p for p in commits.iterdir() if p.name.isdigit()]) if commits.is_dir() else 0


@pytest.mark.parametrize("lake_format", ["delta", "parquet"])
def test_kill_and_restart_loses_and_doubles_nothing(
    spark: SparkSession, kafka_bootstrap: str, pg_dsn: str, tmp_path: Path, lake_format: str
) -> None:
    name = f"spr-{secrets.token_hex(3)}"
    table = f"agg_{name.replace('-', '_')}"
    doc = h.pipeline_doc(
        name, kafka_bootstrap, str(tmp_path / "lake"), str(tmp_path / "ck"), table, lake_format
    )
    cfg_path = tmp_path / "pipeline.json"
    cfg_path.write_text(json.dumps(doc))
    h.create_topics(kafka_bootstrap, h.topics_of(doc))
    ck = tmp_path / "ck"
    log = tmp_path / "job.log"
    sent = chunk(0)
    h.produce_readings(kafka_bootstrap, name, sent)

    env = {**os.environ, "SENSORPIPE_SPARK_MASTER": "local[2]"}
    with log.open("wb") as out:
        job = subprocess.Popen(
            [sys.executable, str(h.MAIN), "stream", "--config", str(cfg_path), "--trigger", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        k = 1
        deadline = time.monotonic() + 600
        while min(committed(ck, q) for q in ("ingest", "aggregates")) < 1:
            if job.poll() is not None:
                pytest.fail(f"streaming job exited {job.returncode}:\n{log.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streaming job committed nothing in time:\n{log.read_text()[-4000:]}")
            if k < 4:
                more = chunk(k)
                h.produce_readings(kafka_bootstrap, name, more)
                sent += more
                k += 1
            time.sleep(2)
        more = chunk(k)
        h.produce_readings(kafka_bootstrap, name, more)
        sent += more
        time.sleep(1.5)  # let the next batches start, then pull the plug in the middle of them
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert job.returncode == -signal.SIGKILL

    later = chunk(k + 1)
    h.produce_readings(kafka_bootstrap, name, [*later, *sent[:40]])
    sent += later
    cfg = config.from_document(doc)
    restarted = streaming.StreamingJob(spark, cfg, schema.load())
    restarted.ensure_sinks()
    restarted.drain()

    rows = (
        spark.read.format(lake_format)
        .load(cfg.readings_path)
        .select("stream", "device_id", "seq")
        .collect()
    )
    keys = [tuple(r) for r in rows]
    assert len(keys) == len(set(keys)), "a reading is in the lake twice"
    assert set(keys) == {(r["stream"], r["device_id"], r["seq"]) for r in sent}

    want = h.oracle(sent)
    pg = h.pg_aggregates(pg_dsn, table)
    assert set(pg) == set(want)
    assert all(h.same(pg[key], want[key]) for key in want), [
        (k, pg[k], want[k]) for k in want if not h.same(pg[k], want[k])
    ][:3]
