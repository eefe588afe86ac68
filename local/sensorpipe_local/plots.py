"""Plots per device of every field the pipeline declares, with its unit, alerts marked, as PNGs.

matplotlib's Agg backend: no display needed, the runner works over SSH and in tests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sensorpipe_local.summary import Field

LINE = "#1f77b4"
ALERT = "#d62728"


def _time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def device_plot(
    path: Path,
    device: str,
    by_field: dict[str, list[tuple[int, float]]],
    alerts: list[dict[str, Any]],
    fields: list[Field],
) -> list[str]:
    """One PNG: a panel per declared field the device sent, with its unit, and the device's
    alerts on that field as red crosses at the alert's event time and value. Returns the
    fields drawn."""
    shown = [f for f in fields if by_field.get(f.name)]
    fig, axes = plt.subplots(len(shown), 1, figsize=(7, 1.5 + 1.5 * len(shown)), sharex=True)
    for ax, field in zip(axes if len(shown) > 1 else [axes], shown, strict=True):
        points = by_field[field.name]
        style = "steps-post" if field.type == "boolean" else "default"
        ax.plot(
            [_time(t) for t, _ in points], [v for _, v in points], lw=1.2, color=LINE,
            drawstyle=style,
        )  # fmt: skip
        marks = [
            a
            for a in alerts
            if a.get("field") == field.name and a.get("event_time") and a.get("value") is not None
        ]
        if marks:
            ax.scatter(
                [_time(int(a["event_time"])) for a in marks],
                [float(a["value"]) for a in marks],
                marker="x",
                color=ALERT,
                s=60,
                zorder=3,
                label=f"alerts ({len(marks)})",
            )
            ax.legend(loc="upper right", fontsize=8)
        ax.set_ylabel(field.label, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(device)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return [f.name for f in shown]
