"""One place that writes benchmark figures, so every benchmark reports the same way.

Each figure is measured beside its baseline in the same run (docs/measurements.md says
how); ``record`` stores both and the ratio, and ``render_markdown`` turns the file
into the table docs/measurements.md shows.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("SENSORPIPE_BENCH_DIR", ROOT / ".cache" / "bench"))
RESULTS_JSON = RESULTS_DIR / "results.json"
RESULTS_MD = RESULTS_DIR / "results.md"


def record(
    name: str,
    value: float,
    unit: str,
    baseline: str,
    baseline_value: float,
    higher_is_better: bool,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add or replace the figure called ``name`` in the results file and return it.

    The ratio is always value / baseline_value, so "higher_is_better" tells a reader
    which direction is a win; a zero baseline gives a ratio of None rather than a crash.
    ``details`` (the method, every run, the load) is stored beside the figure as is.
    """
    entry: dict[str, Any] = {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": (value / baseline_value) if baseline_value else None,
        "higher_is_better": higher_is_better,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if details:
        entry["details"] = details
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lock = RESULTS_DIR / ".lock"
    with open(lock, "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        entries = load()
        entries = [e for e in entries if e.get("name") != name] + [entry]
        tmp = RESULTS_JSON.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=2) + "\n")
        tmp.replace(RESULTS_JSON)
        RESULTS_MD.write_text(render_markdown(entries))
    return entry


def load() -> list[dict[str, Any]]:
    """The figures recorded so far, or an empty list before the first."""
    if not RESULTS_JSON.exists():
        return []
    data = json.loads(RESULTS_JSON.read_text())
    return data if isinstance(data, list) else []


def _fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def render_markdown(entries: list[dict[str, Any]]) -> str:
    """A markdown table of every figure beside its baseline."""
    lines = [
        "| figure | value | baseline | baseline value | ratio | better |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in sorted(entries, key=lambda e: e["name"]):
        better = "higher" if e["higher_is_better"] else "lower"
        lines.append(
            f"| {e['name']} | {_fmt(e['value'])} {e['unit']} | {e['baseline']} | "
            f"{_fmt(e['baseline_value'])} {e['unit']} | {_fmt(e['ratio'])} | {better} |"
        )
    return "\n".join(lines) + "\n"
