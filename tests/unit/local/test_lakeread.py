"""The report's lake reader on Delta tables as Delta writes them: the log decides which files
are live, and partition values come back as plain columns whether or not the files carry them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from sensorpipe_local.lakeread import read_table

pytestmark = pytest.mark.unit


def _add(table: Path, path: str, rows: pa.Table, partitions: dict[str, str]) -> dict[str, object]:
    (table / path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, table / path)
    return {"add": {"path": path, "partitionValues": partitions}}


def test_files_that_carry_their_partition_columns_and_files_that_do_not(tmp_path: Path) -> None:
    table = tmp_path / "readings"
    # Delta 4 appends keep the partition columns in the file; older writers leave them out.
    carried = _add(
        table,
        "stream=motion/date=2026-12-03/a.parquet",
        pa.table({"seq": [1, 2], "stream": ["motion"] * 2, "date": ["2026-12-03"] * 2}),
        {"stream": "motion", "date": "2026-12-03"},
    )
    bare = _add(
        table,
        "stream=distance/date=2026-12-03/b.parquet",
        pa.table({"seq": [7]}),
        {"stream": "distance", "date": "2026-12-03"},
    )
    gone = _add(table, "stream=distance/date=2026-12-03/old.parquet", pa.table({"seq": [7]}), {})
    (table / "_delta_log").mkdir()
    log = [gone, carried, bare, {"remove": {"path": gone["add"]["path"]}}]  # type: ignore[index]
    (table / "_delta_log" / "00000000000000000000.json").write_text(
        "\n".join(json.dumps(action) for action in log)
    )

    rows = read_table(table)

    assert rows is not None
    assert sorted(zip(rows["stream"].to_pylist(), rows["seq"].to_pylist(), strict=True)) == [
        ("distance", 7),
        ("motion", 1),
        ("motion", 2),
    ]
    assert rows.schema.field("stream").type == pa.string()
