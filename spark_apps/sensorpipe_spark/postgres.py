"""Upserting aggregates into PostgreSQL, keyed so that a re-run rewrites the same rows.

The seeds keep 15-minute aggregates in PostgreSQL for dashboards and later batch work. A
micro-batch that is replayed after a crash, or a window updated by a late reading, must
overwrite its row rather than add one: the primary key is the window's identity and every
write is `INSERT ... ON CONFLICT DO UPDATE`. The table is created when missing, so a fresh
database needs no manual step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
_VALUE_COLUMNS = ("count", "min", "max", "mean", "stddev")
_KEY_COLUMNS = ("pipeline", "device_id", "stream", "field", "window_start", "window_end")
COLUMNS = (*_KEY_COLUMNS, *_VALUE_COLUMNS)


def _table(name: str) -> str:
    """The table name, refused unless it is a plain (optionally schema-qualified) identifier."""
    if not _IDENT.match(name):
        raise ValueError(f"invalid PostgreSQL table name {name!r}")
    return name


def create_sql(table: str) -> str:
    """DDL of the aggregates table."""
    t = _table(table)
    return f"""CREATE TABLE IF NOT EXISTS {t} (
  pipeline text NOT NULL,
  device_id text NOT NULL,
  stream text NOT NULL,
  field text NOT NULL,
  window_start timestamptz NOT NULL,
  window_end timestamptz NOT NULL,
  count bigint NOT NULL,
  min double precision,
  max double precision,
  mean double precision,
  stddev double precision,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, device_id, stream, field, window_start, window_end)
)"""


_STAGE = "sensorpipe_stage"


def stage_sql(table: str) -> str:
    """A temporary table shaped like ``table``'s key and value columns, gone at commit."""
    return (
        f"CREATE TEMP TABLE {_STAGE} ON COMMIT DROP AS "
        f"SELECT {', '.join(COLUMNS)} FROM {_table(table)} WITH NO DATA"
    )


def upsert_sql(table: str) -> str:
    """The idempotent upsert of the staged rows: one statement for the whole batch."""
    t = _table(table)
    cols = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUE_COLUMNS)
    return (
        f"INSERT INTO {t} ({cols}) SELECT {cols} FROM {_STAGE} "
        f"ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET {updates}, updated_at = now()"
    )


def ensure_table(dsn: str, table: str) -> None:
    """Create the aggregates table if it is missing."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(create_sql(table))


def upsert(dsn: str, table: str, rows: Iterable[Sequence[Any]]) -> int:
    """Upsert ``rows`` (key columns then value columns) in one transaction; returns the count.

    The rows are streamed with COPY into a temporary table and merged by a single
    `INSERT ... SELECT ... ON CONFLICT`, one round trip for the batch instead of one
    statement per row; a replayed batch overwrites the same keys with the same values.
    """
    count = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(stage_sql(table))
        with cur.copy(f"COPY {_STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row))
                count += 1
        if count:
            cur.execute(upsert_sql(table))
    return count
