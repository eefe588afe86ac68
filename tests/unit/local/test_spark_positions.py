"""How far the local runner counts Spark as done, read from real-format checkpoints: the
slowest query over the topics, and nothing while any query has yet to finish a batch."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from sensorpipe_operator.local.measure import spark_positions

pytestmark = pytest.mark.unit
TOPICS = {"demo.climate"}
DELTA = {"sourceVersion": 1, "reservoirVersion": 2, "index": -1, "isStartingVersion": False}


def _batch(
    checkpoints: Path, query: str, batch: int, source: Mapping[str, object], committed: bool
) -> None:
    """One batch as Spark writes it: offsets/<n> (version, metadata, one line per source)
    and, once the batch is done, commits/<n>."""
    folder = checkpoints / query
    (folder / "offsets").mkdir(parents=True, exist_ok=True)
    (folder / "commits").mkdir(exist_ok=True)
    metadata = {"batchWatermarkMs": 0, "batchTimestampMs": 0}
    lines = ["v1", json.dumps(metadata), json.dumps(source)]
    (folder / "offsets" / str(batch)).write_text("\n".join(lines))
    if committed:
        (folder / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')


def _kafka(*offsets: int) -> dict[str, object]:
    return {"demo.climate": {str(p): o for p, o in enumerate(offsets)}}


def test_the_slowest_query_over_the_topics_counts(tmp_path):
    _batch(tmp_path, "ingest", 0, _kafka(40, 50), committed=True)
    _batch(tmp_path, "alerts", 3, _kafka(90, 30), committed=True)
    _batch(tmp_path, "aggregates", 1, DELTA, committed=True)  # reads the lake: not counted
    assert spark_positions(tmp_path, TOPICS) == {"demo.climate": {0: 40, 1: 30}}


def test_nothing_is_done_while_the_ingest_query_has_not_finished_its_first_batch(tmp_path):
    _batch(tmp_path, "alerts", 3, _kafka(90, 30), committed=True)
    _batch(tmp_path, "ingest", 0, _kafka(40, 50), committed=False)
    assert spark_positions(tmp_path, TOPICS) == {}


def test_nothing_is_done_while_a_query_has_planned_no_batch(tmp_path):
    _batch(tmp_path, "alerts", 3, _kafka(90, 30), committed=True)
    (tmp_path / "ingest" / "offsets").mkdir(parents=True)
    assert spark_positions(tmp_path, TOPICS) == {}


def test_queries_over_a_delta_or_parquet_lake_are_not_counted(tmp_path):
    _batch(tmp_path, "ingest", 0, _kafka(7), committed=True)
    _batch(tmp_path, "aggregates", 0, DELTA, committed=False)
    _batch(tmp_path, "aggregates-parquet", 0, {"logOffset": 4}, committed=False)
    assert spark_positions(tmp_path, TOPICS) == {"demo.climate": {0: 7}}


def test_topics_of_other_pipelines_are_left_out(tmp_path):
    _batch(tmp_path, "ingest", 0, {**_kafka(7), "other.climate": {"0": 3}}, committed=True)
    assert spark_positions(tmp_path, TOPICS) == {"demo.climate": {0: 7}}
