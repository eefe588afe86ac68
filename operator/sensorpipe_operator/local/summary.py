"""Pure summaries for the report: counts, per-device statistics and time series.

Inputs are plain records (lake rows and Kafka values as dicts), outputs JSON-ready values,
so each figure of the report can be checked against a hand computation in a unit test.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

PLOTTED_FIELDS = ("temperature", "humidity")


def count_by(records: Iterable[dict[str, Any]], *keys: str) -> dict[str, int]:
    """How many records share each value of ``keys`` (joined with ``/``)."""
    counts: Counter[str] = Counter("/".join(str(r.get(k, "?")) for k in keys) for r in records)
    return dict(sorted(counts.items()))


def field_stats(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """count, min, max, mean and (population) standard deviation per device, stream and field,
    over every reading in ``rows`` (each with ``device_id``, ``stream`` and ``values``)."""
    acc: dict[tuple[str, str, str], list[float]] = defaultdict(
        lambda: [0, 0.0, 0.0, math.inf, -math.inf]
    )
    for row in rows:
        for name, value in row["values"].items():
            if value is None:
                continue
            v = float(value)
            a = acc[(str(row["device_id"]), str(row["stream"]), name)]
            a[0] += 1
            a[1] += v
            a[2] += v * v
            a[3] = min(a[3], v)
            a[4] = max(a[4], v)
    out = []
    for (device, stream, name), (n, total, squares, lo, hi) in sorted(acc.items()):
        mean = total / n
        out.append(
            {
                "device_id": device,
                "stream": stream,
                "field": name,
                "count": int(n),
                "min": lo,
                "max": hi,
                "mean": mean,
                "stddev": math.sqrt(max(0.0, squares / n - mean * mean)),
            }
        )
    return out


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
