"""How far the local runner counts Spark as done, from what Spark publishes: the offsets its
ingest query committed, against the topics' watermarks, and when the lake's tables were
last written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sensorpipe_local.probes import aggregates_caught_up, last_write, processed_and_lag

pytestmark = pytest.mark.unit


def test_processed_and_lag_count_from_the_committed_offsets():
    marks = {"demo.climate": {0: (0, 50), 1: (10, 40)}}
    assert processed_and_lag(marks, {"demo.climate": {0: 40, 1: 30}}) == (40 + 20, 10 + 10)


def test_a_partition_without_a_commit_counts_from_its_low_watermark():
    marks = {"demo.climate": {0: (5, 50)}, "demo.motion": {0: (0, 7)}}
    assert processed_and_lag(marks, {"demo.climate": {0: 50}}) == (45, 7)


def test_offsets_beyond_the_watermarks_are_clamped():
    """A topic recreated under the group's feet: its old offsets may point past the end or
    before the start."""
    marks = {"demo.climate": {0: (20, 30), 1: (0, 10)}}
    assert processed_and_lag(marks, {"demo.climate": {0: 5, 1: 99}}) == (0 + 10, 10 + 0)


def _write(table: Path, name: str, mtime: float) -> None:
    path = table / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))


def test_last_write_is_the_newest_file_anywhere_in_the_table(tmp_path):
    table = tmp_path / "readings"
    assert last_write(table) is None
    _write(table, "_delta_log/00000.json", 100)
    _write(table, "stream=climate/part-0.parquet", 300)
    _write(table, "_delta_log/00001.json", 200)
    assert last_write(table) == 300


def test_aggregates_caught_up_once_written_after_the_readings(tmp_path):
    readings, aggregates = tmp_path / "readings", tmp_path / "aggregates"
    assert aggregates_caught_up(readings, aggregates, None)  # no readings: nothing to wait for
    _write(readings, "_delta_log/00000.json", 100)
    assert not aggregates_caught_up(readings, aggregates, None)
    _write(aggregates, "_delta_log/00000.json", 150)
    assert aggregates_caught_up(readings, aggregates, None)
    _write(readings, "_delta_log/00001.json", 200)  # a later ingest batch
    assert not aggregates_caught_up(readings, aggregates, None)
    _write(aggregates, "_delta_log/00001.json", 260)
    assert aggregates_caught_up(readings, aggregates, None)


def test_with_an_aggregates_topic_the_batch_ends_when_it_has_published(tmp_path):
    """The query writes the lake first and the topic last: stopping Spark between the two
    would lose the batch's records on the topic."""
    readings, aggregates = tmp_path / "readings", tmp_path / "aggregates"
    _write(readings, "_delta_log/00001.json", 200)
    _write(aggregates, "_delta_log/00001.json", 260)
    asked: list[float] = []

    def published_since(when: float) -> bool:
        asked.append(when)
        return when <= 261  # the topic's newest record

    assert aggregates_caught_up(readings, aggregates, published_since)
    _write(aggregates, "_delta_log/00002.json", 270)
    assert not aggregates_caught_up(readings, aggregates, published_since)
    assert asked == [260, 270]
