"""``sensorpipe report``: what a local run produced, from Kafka and the lake.

Counts in and out (records each gateway put on Kafka and the gateway's own counters, rows
in the lake, dead letters by stage and reason), statistics per device from the lake, the
alerts raised, and plots of temperature and humidity per device with the alerts marked.
Written to ``<work dir>/report/`` as ``report.json`` (for scripts and tests), PNGs and an
HTML page that embeds them. Everything is read back from where the pipeline wrote it, so
the report also works after the run, from another process, with only the work dir.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sensorpipe_operator.local import lakeread, summary, topicread
from sensorpipe_operator.local.layout import Layout

MAX_PLOTS = 12
LAKE_COLUMNS = ("device_id", "stream", "seq", "event_time", "values")


class ReportError(RuntimeError):
    """The work dir holds no run to report on."""


@dataclass
class Report:
    pipeline: str
    gateway_counters: dict[str, Any]
    on_kafka_by_gateway: dict[str, int]
    on_kafka_by_stream: dict[str, int]
    kafka_duplicates: int  # re-sent readings (same stream, device, seq) on Kafka
    lake_rows: int
    lake_duplicates: int
    dead_letter_by_reason: dict[str, int]
    aggregate_records: int
    alerts_by_kind: dict[str, int]
    device_stats: list[dict[str, Any]]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)  # device -> PNG file name


def _lake_rows(lake_path: Path) -> list[dict[str, Any]]:
    table = lakeread.read_table(lake_path / "readings")
    if table is None:
        return []
    rows: list[dict[str, Any]] = table.select(
        [c for c in LAKE_COLUMNS if c in table.column_names]
    ).to_pylist()
    for row in rows:
        row["values"] = lakeread.value_map(row.get("values"))
    return rows


def gather(layout: Layout) -> tuple[Report, dict[str, dict[str, list[tuple[int, float]]]]]:
    """The report's figures and the plotted series, read from Kafka and the lake."""
    try:
        run = json.loads(layout.run_file.read_text())
    except OSError:
        raise ReportError(f"{layout.root} holds no local run (no {layout.run_file.name})") from None
    status = json.loads(layout.status_file.read_text()) if layout.status_file.exists() else {}
    doc = run["runtimeConfig"]
    topics = doc["topics"]
    by_topic: dict[str, list[dict[str, Any]]] = {}
    wanted = [*topics["streams"].values(), topics["deadLetter"], topics["alerts"]]
    if doc["processing"]["sinks"]["aggregatesTopic"]:
        wanted.append(topics["aggregates"])
    for topic, value in topicread.read_all(run["bootstrap"], wanted):
        by_topic.setdefault(topic, []).append(value if isinstance(value, dict) else {})
    readings = [r for t in topics["streams"].values() for r in by_topic.get(t, [])]
    alerts = by_topic.get(topics["alerts"], [])
    rows = _lake_rows(Path(doc["processing"]["sinks"]["lake"]["path"]))
    report = Report(
        pipeline=run["pipeline"],
        gateway_counters=status.get("gateways", {}),
        on_kafka_by_gateway=summary.count_by(readings, "gateway"),
        on_kafka_by_stream=summary.count_by(readings, "stream"),
        kafka_duplicates=summary.duplicates(readings),
        lake_rows=len(rows),
        lake_duplicates=summary.duplicates(rows),
        dead_letter_by_reason=summary.count_by(
            by_topic.get(topics["deadLetter"], []), "stage", "reason"
        ),
        aggregate_records=len(by_topic.get(topics["aggregates"], [])),
        alerts_by_kind=summary.count_by(alerts, "kind"),
        device_stats=summary.field_stats(rows),
        alerts=alerts,
    )
    return report, summary.series(rows)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def render_html(report: Report) -> str:
    """The report page; pure, so its content is testable without a run."""
    counts = [
        *[[f"on Kafka from gateway {g}", n] for g, n in report.on_kafka_by_gateway.items()],
        *[
            [f"gateway {g} published (its metrics)", int((c or {}).get("published", 0))]
            for g, c in report.gateway_counters.items()
        ],
        ["re-sent readings on Kafka", report.kafka_duplicates],
        ["rows in the lake", report.lake_rows],
        ["duplicate rows in the lake", report.lake_duplicates],
        *[[f"dead letters {k}", n] for k, n in report.dead_letter_by_reason.items()],
        ["aggregate records on Kafka", report.aggregate_records],
        *[[f"alerts: {k}", n] for k, n in report.alerts_by_kind.items()],
    ]
    stats = [
        [s["device_id"], s["stream"], s["field"], s["count"], s["min"], s["max"], s["mean"]]
        for s in report.device_stats
    ]
    alerts = [
        [a.get("device_id"), a.get("kind"), a.get("field"), a.get("value"), a.get("message")]
        for a in report.alerts[:200]
    ]
    images = "".join(
        f'<figure><img src="{html.escape(f)}" alt="{html.escape(d)}"></figure>'
        for d, f in report.plots.items()
    )
    title = f"sensorpipe report: {html.escape(report.pipeline)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:20px}}table{{border-collapse:collapse;margin-bottom:20px}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}th{{background:#eee}}
figure{{display:inline-block;margin:4px}}</style></head><body>
<h1>Pipeline {html.escape(report.pipeline)}</h1>
<h2>Counts in and out</h2>{_table(["what", "records"], counts)}
<h2>Per device (whole run, from the lake)</h2>
{_table(["device", "stream", "field", "count", "min", "max", "mean"], stats)}
<h2>Alerts raised ({len(report.alerts)})</h2>
{_table(["device", "kind", "field", "value", "message"], alerts)}
<h2>Temperature and humidity per device (alerts in red)</h2>{images}
</body></html>
"""


def write(layout: Layout) -> Path:
    """Write the report into the work dir; returns the HTML page's path."""
    from sensorpipe_operator.local import plots

    report, by_device = gather(layout)
    out = layout.report_dir
    out.mkdir(parents=True, exist_ok=True)
    for device in summary.devices_to_plot(by_device, report.alerts, MAX_PLOTS):
        name = f"device-{''.join(c if c.isalnum() or c in '-_' else '_' for c in device)}.png"
        device_alerts = [a for a in report.alerts if a.get("device_id") == device]
        plots.device_plot(
            out / name, device, by_device[device], device_alerts, summary.PLOTTED_FIELDS
        )
        report.plots[device] = name
    (out / "report.json").write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    page = out / "report.html"
    page.write_text(render_html(report))
    return page
