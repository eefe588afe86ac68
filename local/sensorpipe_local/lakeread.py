"""Reading the lake's tables without starting Spark, for the report.

A Delta table is Parquet files plus a transaction log: the live files are the ``add``
actions of the log's commits minus the later ``remove`` actions (a MERGE or a compaction
rewrites files, and the old ones stay on disk until vacuumed). Reading every Parquet file in
the folder would count rewritten rows twice, so the log decides. A Parquet lake is read as a
Hive-partitioned dataset (names starting with ``_`` or ``.``, such as Spark's metadata
folder, are skipped). Partition values live in the log (Delta) or in the folder names
(Hive style), and in the files too only where the writer put them there (Delta 4's
appends do); they are put back as plain string columns where a file lacks them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]


def _delta_files(table: Path) -> dict[str, dict[str, str]]:
    """Live data files of a Delta table: relative path -> partition values."""
    live: dict[str, dict[str, str]] = {}
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            if "add" in action:
                add = action["add"]
                live[add["path"]] = add.get("partitionValues") or {}
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return live


def _with_partitions(part: pa.Table, values: dict[str, str]) -> pa.Table:
    for name, value in values.items():
        if name not in part.column_names:
            part = part.append_column(name, pa.array([value] * part.num_rows, pa.string()))
    return part


def read_table(table: Path) -> pa.Table | None:
    """The rows of the lake table at ``table`` (Delta or Parquet), or None if it is absent."""
    if (table / "_delta_log").is_dir():
        parts = [
            # One file, not a dataset: its folder names are not partitions to infer (a file
            # may also carry its partition columns itself, as Delta 4's appends can).
            _with_partitions(pq.read_table(table / unquote(path), partitioning=None), values)
            for path, values in sorted(_delta_files(table).items())
        ]
        return pa.concat_tables(parts, promote_options="default") if parts else None
    if table.is_dir():
        return ds.dataset(table, format="parquet", partitioning="hive").to_table()
    return None


def value_map(value: Any) -> dict[str, Any]:
    """A ``values`` cell as a dict, whether Parquet stored it as a map or a struct."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return dict(value)
    return {}
