"""``sensorpipe report``: what a local run produced, from Kafka and the lake.

Counts in and out (records each gateway put on Kafka and the gateway's own counters, rows in
the lake, dead letters by stage and reason), the aggregates per device that the streaming
job computed (its windows, combined), the alerts raised, and plots of temperature and
humidity per device with the alerts marked. With ``spark_report`` it also runs the Spark
package's own batch report (``sensorpipe-spark report``, once per day in the lake: the
seeds' analyses, written once, there) and embeds it; that costs a Spark session, which is
why it is asked for rather than always done.

Written to ``<work dir>/report/``: ``report.json`` (for scripts and tests), PNGs and an HTML
page that embeds them. Everything is read back from where the pipeline wrote it, so the
report also works after the run, from another process, with only the work dir.
"""

from __future__ import annotations

import csv
import html
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sensorpipe_operator.local import lakeread, plan, summary, topicread
from sensorpipe_operator.local.layout import READINGS_TABLE, Layout
from sensorpipe_operator.local.supervisor import log_tail

MAX_PLOTS = 12
LAKE_COLUMNS = ("device_id", "stream", "seq", "event_time", "values")
SPARK_REPORT_TIMEOUT = 600
DEVICE_TABLE = "device_averages.csv"


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
    device_aggregates: list[dict[str, Any]]
    alerts_by_kind: dict[str, int]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    days: dict[str, str] = field(default_factory=dict)  # day -> Spark report folder or error
    plots: dict[str, str] = field(default_factory=dict)  # device -> PNG file name


def _lake_rows(lake_path: Path) -> list[dict[str, Any]]:
    table = lakeread.read_table(lake_path / READINGS_TABLE)
    if table is None:
        return []
    rows: list[dict[str, Any]] = table.select(
        [c for c in LAKE_COLUMNS if c in table.column_names]
    ).to_pylist()
    for row in rows:
        row["values"] = lakeread.value_map(row.get("values"))
    return rows


def _run_file(layout: Layout) -> dict[str, Any]:
    try:
        run: dict[str, Any] = json.loads(layout.run_file.read_text())
    except OSError:
        raise ReportError(f"{layout.root} holds no local run (no {layout.run_file.name})") from None
    return run


def gather(layout: Layout, run: dict[str, Any]) -> tuple[Report, list[dict[str, Any]]]:
    """The report's figures, and the lake's rows (for plots and the per-day reports)."""
    status = json.loads(layout.status_file.read_text()) if layout.status_file.exists() else {}
    doc = run["runtimeConfig"]
    topics = doc["topics"]
    wanted = [*topics["streams"].values(), topics["deadLetter"], topics["alerts"]]
    if doc["processing"]["sinks"]["aggregatesTopic"]:
        wanted.append(topics["aggregates"])
    by_topic: dict[str, list[dict[str, Any]]] = {}
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
        device_aggregates=summary.device_aggregates(by_topic.get(topics["aggregates"], [])),
        alerts_by_kind=summary.count_by(alerts, "kind"),
        alerts=alerts,
    )
    return report, rows


def spark_day_report(layout: Layout, run: dict[str, Any], day: str) -> str:
    """Run the Spark package's batch report for one day; its folder name, or the error."""
    spark = next(c for c in run["children"] if c["kind"] == "spark")
    out = layout.report_dir / f"spark-{day}"
    log = layout.log(f"spark-report-{day}")
    env = {**os.environ, **plan.spark_env(plan.DEFAULT_SPARK_MASTER, sys.executable)}
    with log.open("wb") as sink:
        result = subprocess.run(
            [
                spark["argv"][0],
                "report",
                "--config",
                str(layout.config(plan.SPARK_CHILD)),
                "--date",
                day,
                "--out",
                str(out),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            timeout=SPARK_REPORT_TIMEOUT,
            check=False,
        )
    if result.returncode != 0:
        return f"error: sensorpipe-spark report exited {result.returncode}: {log_tail(log, 800)}"
    return out.name


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    try:
        return f"{float(value):.2f}" if "." in str(value) else str(value)
    except ValueError:
        return str(value)


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


def render_html(report: Report, report_dir: Path) -> str:
    """The report page."""
    counts = [
        *[[f"on Kafka from gateway {g}", n] for g, n in report.on_kafka_by_gateway.items()],
        *[
            [
                f"gateway {g} published (last scrape of its metrics)",
                int((c or {}).get("published", 0)),
            ]
            for g, c in report.gateway_counters.items()
        ],
        ["re-sent readings on Kafka", report.kafka_duplicates],
        ["rows in the lake", report.lake_rows],
        ["duplicate rows in the lake", report.lake_duplicates],
        *[[f"dead letters {k}", n] for k, n in report.dead_letter_by_reason.items()],
        ["aggregate records on Kafka", report.aggregate_records],
        *[[f"alerts: {k}", n] for k, n in report.alerts_by_kind.items()],
    ]
    alerts = [
        [a.get("device_id"), a.get("kind"), a.get("field"), a.get("value"), a.get("message")]
        for a in report.alerts[:200]
    ]
    images = "".join(
        f'<figure><img src="{html.escape(f)}" alt="{html.escape(d)}"></figure>'
        for d, f in report.plots.items()
    )
    cols = ["device_id", "stream", "field", "windows", "count", "mean", "min", "max"]
    aggregates = _table(cols, [[a[c] for c in cols] for a in report.device_aggregates])
    days = "".join(_day_section(report_dir, d, f) for d, f in report.days.items())
    title = f"sensorpipe report: {html.escape(report.pipeline)}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:20px}}table{{border-collapse:collapse;margin-bottom:20px}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}th{{background:#eee}}
figure{{display:inline-block;margin:4px}}</style></head><body>
<h1>Pipeline {html.escape(report.pipeline)}</h1>
<h2>Counts in and out</h2>{_table(["what", "records"], counts)}
<h2>Aggregates per device (the streaming job's windows, combined)</h2>{aggregates}
{f"<h2>Spark batch report per day</h2>{days}" if days else ""}
<h2>Alerts raised ({len(report.alerts)})</h2>
{_table(["device", "kind", "field", "value", "message"], alerts)}
<h2>Temperature and humidity per device (alerts in red)</h2>{images}
</body></html>
"""


def write(layout: Layout, spark_report: bool = False) -> Path:
    """Write the report into the work dir; returns the HTML page's path."""
    from sensorpipe_operator.local import plots

    run = _run_file(layout)
    report, rows = gather(layout, run)
    out = layout.report_dir
    out.mkdir(parents=True, exist_ok=True)
    if spark_report:
        report.days = {day: spark_day_report(layout, run, day) for day in summary.days(rows)}
    by_device = summary.series(rows)
    for device in summary.devices_to_plot(by_device, report.alerts, MAX_PLOTS):
        name = f"device-{''.join(c if c.isalnum() or c in '-_' else '_' for c in device)}.png"
        device_alerts = [a for a in report.alerts if a.get("device_id") == device]
        plots.device_plot(
            out / name, device, by_device[device], device_alerts, summary.PLOTTED_FIELDS
        )
        report.plots[device] = name
    (out / "report.json").write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    page = out / "report.html"
    page.write_text(render_html(report, out))
    return page
