"""Plots of temperature and humidity per device, alerts marked, as PNG files.

matplotlib's Agg backend: no display needed, the runner works over SSH and in tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

UNITS = {"temperature": "°C", "humidity": "%"}


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def device_plot(
    path: Path,
    device: str,
    by_field: dict[str, list[tuple[int, float]]],
    alerts: list[dict[str, Any]],
    fields: tuple[str, ...],
) -> None:
    """One PNG: a panel per field with its readings, and the device's alerts on that field as
    red crosses at the alert's event time and value."""
    fig, axes = plt.subplots(len(fields), 1, figsize=(8, 2.4 * len(fields)), sharex=True)
    for ax, name in zip(axes if len(fields) > 1 else [axes], fields, strict=True):
        points = by_field.get(name, [])
        if points:
            ax.plot([_time(t) for t, _ in points], [v for _, v in points], lw=1.2)
        marks = [
            a
            for a in alerts
            if a.get("field") == name and a.get("event_time") and a.get("value") is not None
        ]
        if marks:
            ax.scatter(
                [_time(int(a["event_time"])) for a in marks],
                [float(a["value"]) for a in marks],
                marker="x",
                color="red",
                s=60,
                zorder=3,
                label=f"alerts ({len(marks)})",
            )
            ax.legend(loc="upper right", fontsize=8)
        ax.set_ylabel(f"{name} ({UNITS.get(name, '')})")
        ax.grid(alpha=0.3)
    fig.suptitle(device)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
