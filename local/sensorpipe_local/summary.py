"""Pure summaries for the report: the declared fields, counts and their balance, aggregates
per device, days, time series and which devices to plot.

Inputs are plain records (lake rows and Kafka values as dicts), outputs JSON-ready values,
so each figure of the report can be checked against a hand computation in a unit test.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

WINDOW_KEY = ("device_id", "stream", "field", "window_start", "window_end")
# UCUM codes of the spec shown as people write them; any other unit is shown as declared.
UNIT_LABELS = {"Cel": "°C", "[degF]": "°F", "%": "%"}


@dataclass(frozen=True)
class Field:
    """A declared field of a stream, as the run's runtime config lists it."""

    stream: str
    name: str
    type: str
    unit: str | None

    @property
    def label(self) -> str:
        unit = UNIT_LABELS.get(self.unit or "", self.unit or "")
        if self.type == "boolean":
            return f"{self.name} (0/1)"
        return f"{self.name} ({unit})" if unit else self.name


def declared_fields(streams: list[dict[str, Any]]) -> list[Field]:
    """Every field of every stream, in the spec's order."""
    return [
        Field(s["name"], f["name"], f.get("type", "number"), f.get("unit"))
        for s in streams
        for f in s["fields"]
    ]


def count_by(records: Iterable[dict[str, Any]], *keys: str) -> dict[str, int]:
    """How many records share each value of ``keys`` (joined with ``/``)."""
    counts: Counter[str] = Counter("/".join(str(r.get(k, "?")) for k in keys) for r in records)
    return dict(sorted(counts.items()))


def device_aggregates(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The streaming job's windowed aggregates combined per device, stream and field.

    The job emits a window again each time it changes (update mode), so only the fullest
    emission of each window counts; windows then combine exactly (counts add, extremes
    extend, means weight by count).
    """
    windows: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in records:
        if not r.get("count"):
            continue
        key = tuple(str(r.get(k)) for k in WINDOW_KEY)
        if key not in windows or r["count"] >= windows[key]["count"]:
            windows[key] = r
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for key, w in sorted(windows.items()):
        device, stream, name = key[:3]
        acc = out.setdefault(
            (device, stream, name),
            {"device_id": device, "stream": stream, "field": name, "windows": 0, "count": 0,
             "min": math.inf, "max": -math.inf, "mean": 0.0},
        )  # fmt: skip
        n = int(w["count"])
        acc["mean"] = (acc["mean"] * acc["count"] + float(w["mean"]) * n) / (acc["count"] + n)
        acc["windows"] += 1
        acc["count"] += n
        acc["min"] = min(acc["min"], float(w["min"]))
        acc["max"] = max(acc["max"], float(w["max"]))
    return list(out.values())


def days(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The UTC dates (YYYY-MM-DD) the readings' event times fall on: the lake's partitions."""
    return sorted(
        {
            dt.datetime.fromtimestamp(int(r["event_time"]) / 1000, dt.UTC).date().isoformat()
            for r in rows
        }
    )


def number(value: Any) -> float | None:
    """A reading's value as a number to plot: booleans (motion) as 0/1, else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return float(value.lower() == "true")
        try:
            return float(value)
        except ValueError:
            return None
    return None


def series(
    rows: Iterable[dict[str, Any]], fields: Iterable[str]
) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """device -> field -> [(event time ms, value)] sorted by time, for the chosen fields."""
    names = tuple(fields)
    out: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for name in names:
            value = number(row["values"].get(name))
            if value is not None:
                out[str(row["device_id"])][name].append((int(row["event_time"]), value))
    return {d: {f: sorted(pts) for f, pts in by_field.items()} for d, by_field in out.items()}


def balance(
    on_kafka: int, kafka_duplicates: int, lake_rows: int, dead_letters: dict[str, int]
) -> dict[str, int]:
    """Where every reading put on Kafka went, each figure read from Kafka or the lake (never a
    metrics scrape, which lags): unique readings on Kafka = rows in the lake + readings the
    Spark job refused (dead letters of stage ``spark``) + readings not in the lake (yet)."""
    unique = on_kafka - kafka_duplicates
    refused = sum(n for key, n in dead_letters.items() if key.startswith("spark/"))
    return {
        "unique readings on Kafka": unique,
        "rows in the lake": lake_rows,
        "refused by the Spark job": refused,
        "not in the lake": unique - lake_rows - refused,
        "refused at the gateways (never on a readings topic)": sum(
            n for key, n in dead_letters.items() if not key.startswith("spark/")
        ),
    }


def devices_to_plot(
    series_by_device: dict[str, Any], alerts: list[dict[str, Any]], limit: int
) -> list[str]:
    """The devices with the most alerts first, then by name, at most ``limit``: a fleet of a
    thousand cannot all be drawn, and the ones that alerted are the ones worth a look."""
    per_device = Counter(str(a.get("device_id")) for a in alerts)
    ranked = sorted(series_by_device, key=lambda d: (-per_device[d], d))
    return ranked[:limit]


def duplicates(rows: Iterable[dict[str, Any]]) -> int:
    """Rows beyond the first for the same reading identity (stream, device, boot epoch,
    sequence number; a reading without an epoch is in epoch 0)."""
    seen = Counter(
        (r.get("stream"), r.get("device_id"), r.get("boot") or 0, r.get("seq")) for r in rows
    )
    return sum(n - 1 for n in seen.values())
