"""The seeds' batch analyses as Spark SQL over the lake, for one day, with plots.

What the seeds did by hand after the stream (abnormal readings, averages per sensor, a
daily report, charts) becomes one command: `sensorpipe-spark report --date D --out DIR`.
Each table is written as Parquet (for further processing) and CSV (for a person), and each
plot as a PNG. Abnormal means "breaks one of the spec's threshold rules", so the report and
the live alerts agree on what is abnormal.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensorpipe_spark.config import JobConfig

RULES_SCHEMA = (
    "name string, stream string, field string, above double, below double, severity string"
)

QUERIES: dict[str, str] = {
    "abnormal_readings": """
        SELECT m.device_id, m.stream, m.field, m.value, m.event_ts, m.seq,
               r.name AS rule, r.severity, r.above, r.below
        FROM measurements m JOIN rules r ON m.stream = r.stream AND m.field = r.field
        WHERE (r.above IS NOT NULL AND m.value > r.above)
           OR (r.below IS NOT NULL AND m.value < r.below)
        ORDER BY m.event_ts, m.device_id""",
    "device_averages": """
        SELECT device_id, stream, field, COUNT(*) AS count, AVG(value) AS mean,
               MIN(value) AS min, MAX(value) AS max, STDDEV_SAMP(value) AS stddev
        FROM measurements GROUP BY device_id, stream, field
        ORDER BY stream, field, device_id""",
    "hourly": """
        SELECT stream, field, HOUR(event_ts) AS hour, COUNT(*) AS count,
               COUNT(DISTINCT device_id) AS devices, AVG(value) AS mean,
               MIN(value) AS min, MAX(value) AS max
        FROM measurements GROUP BY stream, field, HOUR(event_ts)
        ORDER BY stream, field, hour""",
    "daily_summary": """
        SELECT stream, COUNT(DISTINCT device_id, boot, seq) AS readings,
               COUNT(DISTINCT device_id) AS devices, MIN(event_ts) AS first, MAX(event_ts) AS last
        FROM measurements GROUP BY stream ORDER BY stream""",
}


def _register(spark: SparkSession, cfg: JobConfig, day: dt.date) -> None:
    readings = spark.read.format(cfg.lake_format).load(cfg.readings_path)
    if "boot" not in readings.columns:  # a Parquet lake written before boot epochs
        readings = readings.withColumn("boot", F.lit(0).cast("long"))
    readings.where(readings.date == day).createOrReplaceTempView("readings")
    spark.sql(
        "SELECT device_id, stream, coalesce(boot, 0) AS boot, seq, event_ts, field, value "
        "FROM readings LATERAL VIEW explode(`values`) v AS field, value"
    ).createOrReplaceTempView("measurements")
    rules = [
        (r.name, r.stream, r.field, r.above, r.below, r.severity) for r in cfg.alerts.thresholds
    ]
    spark.createDataFrame(rules, RULES_SCHEMA).createOrReplaceTempView("rules")


def _bar(ax: Any, labels: list[str], values: list[float], title: str, ylabel: str) -> None:
    ax.bar(labels, values, color="#4477aa")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)


def _plots(tables: dict[str, Any], out: Path, day: dt.date) -> list[Path]:
    """One PNG per field for averages, one for the hourly means, one for abnormal counts."""
    paths: list[Path] = []
    avg = tables["device_averages"]
    for (stream, field), part in avg.groupby(["stream", "field"], sort=True):
        fig, ax = plt.subplots(figsize=(10, 4))
        _bar(
            ax,
            list(part["device_id"]),
            list(part["mean"]),
            f"{stream}/{field}: mean per device, {day}",
            field,
        )
        paths.append(out / f"average_{stream}_{field}.png")
        fig.tight_layout()
        fig.savefig(paths[-1], dpi=80)
        plt.close(fig)
    hourly = tables["hourly"]
    if len(hourly):
        fig, ax = plt.subplots(figsize=(10, 4))
        for (stream, field), part in hourly.groupby(["stream", "field"], sort=True):
            ax.plot(part["hour"], part["mean"], marker="o", label=f"{stream}/{field}")
        ax.set_title(f"hourly mean, {day} (UTC)")
        ax.set_xlabel("hour")
        ax.legend(fontsize=7)
        paths.append(out / "hourly_means.png")
        fig.tight_layout()
        fig.savefig(paths[-1], dpi=80)
        plt.close(fig)
    abnormal = tables["abnormal_readings"]
    fig, ax = plt.subplots(figsize=(10, 4))
    counts = abnormal["device_id"].value_counts().sort_index()
    _bar(
        ax,
        [str(k) for k in counts.index],
        [float(v) for v in counts.to_numpy()],
        f"abnormal readings per device, {day}",
        "readings",
    )
    paths.append(out / "abnormal_per_device.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    return paths


def _write(df: DataFrame, out: Path, name: str) -> Any:
    df.coalesce(1).write.mode("overwrite").parquet(str(out / f"{name}.parquet"))
    pdf: Any = df.toPandas()
    pdf.to_csv(out / f"{name}.csv", index=False)
    return pdf


def run(spark: SparkSession, cfg: JobConfig, day: dt.date, out_dir: str | Path) -> dict[str, Any]:
    """Write the day's tables (Parquet + CSV), plots (PNG) and a `report.json` summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _register(spark, cfg, day)
    tables = {name: _write(spark.sql(sql), out, name) for name, sql in QUERIES.items()}
    plots = _plots(tables, out, day)
    summary = {
        "pipeline": cfg.pipeline,
        "date": day.isoformat(),
        "rows": {name: len(t) for name, t in tables.items()},
        "tables": sorted(f"{n}.csv" for n in QUERIES) + sorted(f"{n}.parquet" for n in QUERIES),
        "plots": [p.name for p in plots],
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
