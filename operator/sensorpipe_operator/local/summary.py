"""Pure summaries for the report: counts, days, time series and which devices to plot.

Inputs are plain records (lake rows and Kafka values as dicts), outputs JSON-ready values,
so each figure of the report can be checked against a hand computation in a unit test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

PLOTTED_FIELDS = ("temperature", "humidity")


def count_by(records: Iterable[dict[str, Any]], *keys: str) -> dict[str, int]:
    """How many records share each value of ``keys`` (joined with ``/``)."""
    counts: Counter[str] = Counter("/".join(str(r.get(k, "?")) for k in keys) for r in records)
    return dict(sorted(counts.items()))


def days(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The UTC dates (YYYY-MM-DD) the readings' event times fall on: the lake's partitions."""
    return sorted(
        {
            dt.datetime.fromtimestamp(int(r["event_time"]) / 1000, dt.UTC).date().isoformat()
            for r in rows
        }
    )


def series(
    rows: Iterable[dict[str, Any]], fields: tuple[str, ...] = PLOTTED_FIELDS
) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """device -> field -> [(event time ms, value)] sorted by time, for the chosen fields."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for name in fields:
            value = row["values"].get(name)
            if value is not None:
                out[str(row["device_id"])][name].append((int(row["event_time"]), float(value)))
    return {d: {f: sorted(pts) for f, pts in by_field.items()} for d, by_field in out.items()}


def devices_to_plot(
    series_by_device: dict[str, Any], alerts: list[dict[str, Any]], limit: int
) -> list[str]:
    """The devices with the most alerts first, then by name, at most ``limit``: a fleet of a
    thousand cannot all be drawn, and the ones that alerted are the ones worth a look."""
    per_device = Counter(str(a.get("device_id")) for a in alerts)
    ranked = sorted(series_by_device, key=lambda d: (-per_device[d], d))
    return ranked[:limit]


def duplicates(rows: Iterable[dict[str, Any]]) -> int:
    """Rows beyond the first for the same (stream, device, sequence number)."""
    seen = Counter((r.get("stream"), r.get("device_id"), r.get("seq")) for r in rows)
    return sum(n - 1 for n in seen.values())
