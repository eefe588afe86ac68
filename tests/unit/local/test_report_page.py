"""The local run's report as people look at it: plots first (per device, every declared field
with its unit, alerts marked), then a summary whose counts agree, then the tables folded.
The page is drawn by headless Chromium and its first screen must show the plots."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from PIL import Image

from sensorpipe_local import plots, run_report_page, summary
from sensorpipe_local.run_report import Report
from tests.browser import screenshot

pytestmark = pytest.mark.unit

STREAMS = [
    {
        "name": "climate",
        "fields": [
            {"name": "temperature", "type": "number", "unit": "Cel"},
            {"name": "humidity", "type": "number", "unit": "%"},
        ],
    },
    {"name": "distance", "fields": [{"name": "distance", "type": "number", "unit": "cm"}]},
    {"name": "motion", "fields": [{"name": "motion", "type": "boolean", "unit": None}]},
]
T0 = 1_764_000_000_000


def lake_rows(device: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "device_id": device,
            "event_time": T0 + i * 1000,
            "values": {
                "temperature": 20 + (i % 7),
                "humidity": 40.0 + i % 3,
                "distance": "120.5",
                "motion": i % 4 == 0,
            },
        }
        for i in range(n)
    ]


def test_every_declared_field_is_plotted_with_its_unit():
    fields = summary.declared_fields(STREAMS)
    assert [f.label for f in fields] == [
        "temperature (°C)",
        "humidity (%)",
        "distance (cm)",
        "motion (0/1)",
    ]
    by_device = summary.series(lake_rows("d1", 5), (f.name for f in fields))
    assert set(by_device["d1"]) == {"temperature", "humidity", "distance", "motion"}
    assert by_device["d1"]["motion"][:2] == [(T0, 1.0), (T0 + 1000, 0.0)]
    assert by_device["d1"]["distance"][0] == (T0, 120.5)  # a string cell is still a number


def test_the_balance_adds_up_from_kafka_and_the_lake():
    dead = {"gateway/checksum": 4, "spark/out_of_range": 2}
    b = summary.balance(on_kafka=105, kafka_duplicates=5, lake_rows=97, dead_letters=dead)
    assert b == {
        "unique readings on Kafka": 100,
        "rows in the lake": 97,
        "refused by the Spark job": 2,
        "not in the lake": 1,
        "refused at the gateways (never on a readings topic)": 4,
    }


def report_with_plots(folder: Path) -> Report:
    fields = summary.declared_fields(STREAMS)
    rows = lake_rows("node-01", 60) + lake_rows("sim-00001", 60)
    alerts = [
        {"device_id": "node-01", "kind": "threshold", "field": "temperature",
         "value": 26, "event_time": T0 + 6000, "message": "hot"},
    ]  # fmt: skip
    report = Report(
        pipeline="demo",
        gateway_counters={},
        on_kafka_by_gateway={"fleet": 60, "bench-node": 60},
        on_kafka_by_stream={"climate": 120},
        kafka_duplicates=0,
        lake_rows=120,
        lake_duplicates=0,
        dead_letter_by_reason={"gateway/checksum": 1},
        aggregate_records=8,
        device_aggregates=[],
        alerts_by_kind={"threshold": 1},
        alerts=alerts,
        balance=summary.balance(120, 0, 120, {"gateway/checksum": 1}),
        fields=[asdict(f) for f in fields],
    )
    by_device = summary.series(rows, (f.name for f in fields))
    for device in summary.devices_to_plot(by_device, alerts, 12):
        png = f"device-{device}.png"
        mine = [a for a in alerts if a["device_id"] == device]
        report.plots[device] = png
        report.plotted_fields[device] = plots.device_plot(
            folder / png, device, by_device[device], mine, fields
        )
    return report


def test_plots_come_first_then_the_summary_then_folded_tables(tmp_path: Path):
    report = report_with_plots(tmp_path)
    page = run_report_page.render(report, tmp_path)
    plots_at = page.index('<div class="plots">')
    summary_at = page.index("<h2>Summary (read from Kafka and the lake)</h2>")
    assert plots_at < summary_at < page.index("<details>")
    assert list(report.plots) == ["node-01", "sim-00001"]  # the device that alerted first
    assert report.plotted_fields["node-01"] == ["temperature", "humidity", "distance", "motion"]
    assert "Every unique reading on Kafka is in the lake" in page
    assert "last scrape" not in page  # no figure from a metrics scrape
    assert page.count("<details>") == 4
    assert "1 alert</span>" in page


def pixels(shot: Path) -> dict[object, int]:
    """How many pixels of each colour (an RGB tuple) the screenshot has."""
    return {c: n for n, c in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 22) or []}


def rgb(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def test_the_first_screen_in_chromium_shows_the_plots(tmp_path: Path):
    report = report_with_plots(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(run_report_page.render(report, tmp_path))
    shot = screenshot(page.as_uri(), tmp_path / "shot.png", tmp_path / "profile")
    colours = pixels(shot)
    line, alert = rgb(plots.LINE), rgb(plots.ALERT)
    # The plots' lines and the alert's cross (the page's own text uses another red).
    assert colours.get(line, 0) > 500, f"no plot line in the first screen of {shot}"
    assert colours.get(alert, 0) > 20, f"no alert mark in the first screen of {shot}"


def test_a_page_without_its_plots_is_told_apart(tmp_path: Path):
    """The screenshot check can fail: the same page with its PNGs gone shows no plot line."""
    report = report_with_plots(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(run_report_page.render(report, tmp_path))
    for png in report.plots.values():
        (tmp_path / png).unlink()
    shot = screenshot(page.as_uri(), tmp_path / "shot.png", tmp_path / "profile")
    assert pixels(shot).get(rgb(plots.LINE), 0) == 0
