"""The report's HTML page: what people look at first comes first.

Plots per device (every declared field with its unit, alerts marked), then a summary whose
counts agree with each other (all read from Kafka and the lake, balanced: every unique reading
on Kafka is a lake row, a reading the Spark job refused, or counted as not in the lake), then
the tables, folded (``<details>``) so they do not push the plots off the first screen.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sensorpipe_local.summary import UNIT_LABELS

if TYPE_CHECKING:
    from sensorpipe_local.run_report import Report

DEVICE_TABLE = "device_averages.csv"
STYLE = """body{font-family:sans-serif;margin:20px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#eee}
td.n{text-align:right}.plots{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0}figcaption{font-size:13px;color:#555}
details{margin:6px 0}summary{cursor:pointer;font-weight:bold}
.ok{color:#1a7f37}.off{color:#b3261e}.alert{color:#b3261e}"""


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    try:
        return f"{float(value):.2f}" if "." in str(value) else str(value)
    except ValueError:
        return str(value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{v}</td>' if isinstance(v, int) else f"<td>{html.escape(_fmt(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _folded(title: str, body: str) -> str:
    return f"<details><summary>{html.escape(title)}</summary>{body}</details>"


def _plots(report: Report) -> str:
    alerts_per_device: dict[str, int] = {}
    for a in report.alerts:
        device = str(a.get("device_id"))
        alerts_per_device[device] = alerts_per_device.get(device, 0) + 1
    figures = []
    for device, png in report.plots.items():
        n = alerts_per_device.get(device, 0)
        mark = f' <span class="alert">{n} alert{"s" if n != 1 else ""}</span>' if n else ""
        drawn = ", ".join(report.plotted_fields.get(device, []))
        figures.append(
            f'<figure><img src="{html.escape(png)}" alt="{html.escape(device)}: {drawn}">'
            f"<figcaption>{html.escape(device)}{mark}</figcaption></figure>"
        )
    units = ", ".join(
        f"{f['name']} ({UNIT_LABELS.get(f['unit'] or '', f['unit'] or '0/1')})"
        for f in report.fields
    )
    shown = f"{len(report.plots)} devices" + (
        " (those with the most alerts first)" if report.alerts else ""
    )
    return (
        f"<h2>Readings per device</h2><p>{shown}; fields: {html.escape(units)}; "
        f'alerts as <span class="alert">red crosses</span>.</p>'
        f'<div class="plots">{"".join(figures)}</div>'
    )


def _summary(report: Report) -> str:
    b = report.balance
    missing = b.get("not in the lake", 0)
    verdict = (
        '<p class="ok">Every unique reading on Kafka is in the lake or was refused by the '
        "Spark job, with no duplicate rows.</p>"
        if missing == 0 and report.lake_duplicates == 0
        else f'<p class="off">{missing} readings on Kafka are not in the lake (yet); '
        f"{report.lake_duplicates} duplicate rows.</p>"
    )
    rows: list[list[Any]] = [
        *[[f"on Kafka from gateway {g}", n] for g, n in report.on_kafka_by_gateway.items()],
        ["re-sent readings on Kafka (same device, stream, seq)", report.kafka_duplicates],
        *[[k, n] for k, n in b.items()],
        ["duplicate rows in the lake", report.lake_duplicates],
        ["aggregate records on Kafka", report.aggregate_records],
        ["alerts", len(report.alerts)],
    ]
    return (
        "<h2>Summary (read from Kafka and the lake)</h2>"
        f"{verdict}{_table(['what', 'records'], rows)}"
    )


def _day_section(report_dir: Path, day: str, folder: str) -> str:
    if folder.startswith("error"):
        return f"<h3>{html.escape(day)}</h3><p>{html.escape(folder)}</p>"
    stats = _read_csv(report_dir / folder / DEVICE_TABLE)
    cols = ["device_id", "stream", "field", "count", "mean", "min", "max", "stddev"]
    images = "".join(
        f'<figure><img src="{html.escape(folder)}/{html.escape(p.name)}" alt="{p.stem}"></figure>'
        for p in sorted((report_dir / folder).glob("*.png"))
    )
    return (
        f"<h3>{html.escape(day)} (Spark batch report: "
        f'<a href="{html.escape(folder)}/">{html.escape(folder)}</a>)</h3>'
        f"{_table(cols, [[s.get(c, '') for c in cols] for s in stats])}{images}"
    )


def render(report: Report, report_dir: Path) -> str:
    """The report page."""
    by_stream = [[s, n] for s, n in report.on_kafka_by_stream.items()]
    dead = [[k, n] for k, n in report.dead_letter_by_reason.items()]
    cols = ["device_id", "stream", "field", "windows", "count", "mean", "min", "max"]
    aggregates = _table(cols, [[a[c] for c in cols] for a in report.device_aggregates])
    alerts = [
        [a.get("device_id"), a.get("kind"), a.get("field"), a.get("value"), a.get("message")]
        for a in report.alerts[:200]
    ]
    kinds = ", ".join(f"{k}: {n}" for k, n in report.alerts_by_kind.items()) or "none"
    days = "".join(_day_section(report_dir, d, f) for d, f in report.days.items())
    title = f"sensorpipe report: {html.escape(report.pipeline)}"
    tables = "".join(
        [
            _folded("Readings on Kafka by stream", _table(["stream", "records"], by_stream)),
            _folded("Dead letters by stage and reason", _table(["stage/reason", "records"], dead)),
            _folded("Aggregates per device (the streaming job's windows, combined)", aggregates),
            _folded(
                f"Alerts raised ({len(report.alerts)}: {kinds})",
                _table(["device", "kind", "field", "value", "message"], alerts),
            ),
            _folded("Spark batch report per day", days) if days else "",
        ]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{STYLE}</style></head><body>
<h1>Pipeline {html.escape(report.pipeline)}</h1>
{_plots(report)}
{_summary(report)}
<h2>Details</h2>{tables}
</body></html>
"""
