"""``sensorpipe-local report``: what a local run produced, from Kafka and the lake.

Plots per device of every declared field with its unit, alerts marked; counts in and out
read from Kafka and the lake (records each gateway put on Kafka, rows in the lake, dead
letters by stage and reason), balanced so they agree; the aggregates per device that the
streaming job computed (its windows, combined) and the alerts raised. The gateways' own
counters (their last metrics scrape, which may precede their final flush) are kept in
``report.json`` for comparison, not in the summary. With ``spark_report`` it also runs the Spark
package's own batch report (``sensorpipe-spark report``, once per day in the lake: the
seeds' analyses, written once, there) and embeds it; that costs a Spark session, which is
why it is asked for rather than always done.

Written to ``<work dir>/report/``: ``report.json`` (for scripts and tests), PNGs and an HTML
page that embeds them. Everything is read back from where the pipeline wrote it, so the
report also works after the run, from another process, with only the work dir.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sensorpipe_local import lakeread, processes, run_report_page, summary, topicread
from sensorpipe_local.supervisor import log_tail
from sensorpipe_local.workdir import READINGS_TABLE, WorkDir

MAX_PLOTS = 12
LAKE_COLUMNS = ("device_id", "stream", "boot", "seq", "event_time", "values")
SPARK_REPORT_TIMEOUT = 600


class ReportError(RuntimeError):
    """The work dir holds no run to report on."""


@dataclass
class Report:
    pipeline: str
    gateway_counters: dict[str, Any]
    on_kafka_by_gateway: dict[str, int]
    on_kafka_by_stream: dict[str, int]
    kafka_duplicates: int  # re-sent readings (same stream, device, boot, seq) on Kafka
    lake_rows: int
    lake_duplicates: int
    dead_letter_by_reason: dict[str, int]
    aggregate_records: int
    device_aggregates: list[dict[str, Any]]
    alerts_by_kind: dict[str, int]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    balance: dict[str, int] = field(default_factory=dict)  # summary.balance
    fields: list[dict[str, Any]] = field(default_factory=list)  # declared, with units
    days: dict[str, str] = field(default_factory=dict)  # day -> Spark report folder or error
    plots: dict[str, str] = field(default_factory=dict)  # device -> PNG file name
    plotted_fields: dict[str, list[str]] = field(default_factory=dict)  # device -> fields drawn


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


def _run_file(workdir: WorkDir) -> dict[str, Any]:
    try:
        run: dict[str, Any] = json.loads(workdir.run_file.read_text())
    except OSError:
        raise ReportError(
            f"{workdir.root} holds no local run (no {workdir.run_file.name})"
        ) from None
    return run


def gather(workdir: WorkDir, run: dict[str, Any]) -> tuple[Report, list[dict[str, Any]]]:
    """The report's figures, and the lake's rows (for plots and the per-day reports)."""
    status = json.loads(workdir.status_file.read_text()) if workdir.status_file.exists() else {}
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
    dead_letters = summary.count_by(by_topic.get(topics["deadLetter"], []), "stage", "reason")
    on_kafka_by_gateway = summary.count_by(readings, "gateway")
    kafka_duplicates = summary.duplicates(readings)
    report = Report(
        pipeline=run["pipeline"],
        gateway_counters=status.get("gateways", {}),
        on_kafka_by_gateway=on_kafka_by_gateway,
        on_kafka_by_stream=summary.count_by(readings, "stream"),
        kafka_duplicates=kafka_duplicates,
        lake_rows=len(rows),
        lake_duplicates=summary.duplicates(rows),
        dead_letter_by_reason=dead_letters,
        aggregate_records=len(by_topic.get(topics["aggregates"], [])),
        device_aggregates=summary.device_aggregates(by_topic.get(topics["aggregates"], [])),
        alerts_by_kind=summary.count_by(alerts, "kind"),
        alerts=alerts,
        balance=summary.balance(
            sum(on_kafka_by_gateway.values()), kafka_duplicates, len(rows), dead_letters
        ),
        fields=[asdict(f) for f in summary.declared_fields(doc["streams"])],
    )
    return report, rows


def spark_day_report(workdir: WorkDir, run: dict[str, Any], day: str) -> str:
    """Run the Spark package's batch report for one day; its folder name, or the error."""
    spark = next(c for c in run["children"] if c["kind"] == "spark")
    out = workdir.report_dir / f"spark-{day}"
    log = workdir.log(f"spark-report-{day}")
    env = {**os.environ, **processes.spark_env(processes.DEFAULT_SPARK_MASTER, sys.executable)}
    with log.open("wb") as sink:
        result = subprocess.run(
            [
                spark["argv"][0],
                "report",
                "--config",
                str(workdir.config(processes.SPARK_CHILD)),
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


def write(workdir: WorkDir, spark_report: bool = False) -> Path:
    """Write the report into the work dir; returns the HTML page's path."""
    from sensorpipe_local import plots  # matplotlib: only when a report is written

    run = _run_file(workdir)
    report, rows = gather(workdir, run)
    out = workdir.report_dir
    out.mkdir(parents=True, exist_ok=True)
    if spark_report:
        report.days = {day: spark_day_report(workdir, run, day) for day in summary.days(rows)}
    fields = summary.declared_fields(run["runtimeConfig"]["streams"])
    by_device = summary.series(rows, (f.name for f in fields))
    for device in summary.devices_to_plot(by_device, report.alerts, MAX_PLOTS):
        name = f"device-{''.join(c if c.isalnum() or c in '-_' else '_' for c in device)}.png"
        device_alerts = [a for a in report.alerts if a.get("device_id") == device]
        drawn = plots.device_plot(out / name, device, by_device[device], device_alerts, fields)
        report.plots[device] = name
        report.plotted_fields[device] = drawn
    (out / "report.json").write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    page = out / "report.html"
    page.write_text(run_report_page.render(report, out))
    return page
