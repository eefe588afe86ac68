"""`sensorpipe run` end to end on the real stack: a simulated gateway and one firmware node
under simavr, the real Spark job, then the report.

One run is shared by the module (Spark's start-up dominates the cost); each test checks one
promise of the runner against what the run left behind.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.local.conftest import SENSORPIPE, write_manifest

pytestmark = pytest.mark.integration

RUN_SECONDS = "15"
# Spark's start-up and first batches on a loaded 2-core machine take minutes, not seconds.
DRAIN_SECONDS = "900"
FIRMWARE_GATEWAY = "bench"


@pytest.fixture(scope="module")
def run(stack, tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("local-run")
    name = f"local-{secrets.token_hex(3)}"
    manifest = write_manifest(folder / "pipeline.yaml", name)
    work = folder / "work"
    proc = subprocess.run(
        [
            SENSORPIPE, "run", "-f", str(manifest),
            "--bootstrap", stack["KAFKA_BOOTSTRAP"],
            "--work-dir", str(work),
            "--duration", RUN_SECONDS,
            "--drain-timeout", DRAIN_SECONDS,
            "--firmware-node", FIRMWARE_GATEWAY,
        ],
        capture_output=True, text=True, timeout=1500, check=False,
    )  # fmt: skip
    logs = "\n".join(
        f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
        for log in sorted((work / "logs").glob("*.log"))
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}"
    assert "did not catch up" not in proc.stdout, f"Spark too slow:\n{proc.stdout[-3000:]}"
    report_dir = work / "report"
    return {
        "name": name,
        "work": work,
        "stdout": proc.stdout,
        "report_dir": report_dir,
        "report": json.loads((report_dir / "report.json").read_text()),
        "logs": logs,
    }


def test_each_gateway_put_readings_on_kafka(run):
    by_gateway = run["report"]["on_kafka_by_gateway"]
    assert by_gateway.get("sim", 0) > 0, run["report"]
    assert by_gateway.get(FIRMWARE_GATEWAY, 0) > 0, (run["report"], run["logs"])


def test_every_valid_reading_reached_the_lake_exactly_once(run):
    report = run["report"]
    on_kafka = sum(report["on_kafka_by_gateway"].values()) - report["kafka_duplicates"]
    spark_rejects = sum(
        n for key, n in report["dead_letter_by_reason"].items() if key.startswith("spark/")
    )
    assert report["lake_rows"] > 0, (report, run["stdout"][-3000:])
    assert report["lake_duplicates"] == 0
    assert report["lake_rows"] + spark_rejects == on_kafka, report


def test_the_gateways_own_counters_agree_with_kafka(run):
    report = run["report"]
    for gateway, counters in report["gateway_counters"].items():
        # the last scrape may precede the final flush, never follow it
        assert 0 < counters["published"] <= report["on_kafka_by_gateway"][gateway], report


def test_the_firmware_nodes_warm_readings_raised_threshold_alerts(run):
    alerts = run["report"]["alerts"]
    assert any(a["kind"] == "threshold" and a["device_id"] == "node-01" for a in alerts), alerts


def test_the_report_has_aggregates_per_device_from_the_streaming_job(run):
    report = run["report"]
    temperature = {
        a["device_id"]: a for a in report["device_aggregates"] if a["field"] == "temperature"
    }
    assert set(temperature) == {"node-01", "sim-00000", "sim-00001", "sim-00002"}, report
    assert all(a["count"] > 0 and a["min"] <= a["mean"] <= a["max"] for a in temperature.values())
    assert sum(a["count"] for a in temperature.values()) <= report["on_kafka_by_stream"]["climate"]
    assert temperature["node-01"]["min"] == temperature["node-01"]["max"] == 22.5


def test_the_report_page_embeds_a_plot_per_device(run):
    report, folder = run["report"], run["report_dir"]
    assert set(report["plots"]) == {"node-01", "sim-00000", "sim-00001", "sim-00002"}
    page = (folder / "report.html").read_text()
    for png in report["plots"].values():
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{png}"' in page
    assert "node-01" in page


def test_a_gateway_whose_simulation_ended_did_not_fail_the_run(run):
    gateway_log = (run["work"] / "logs" / "gateway-sim.log").read_text()
    assert "gateway stopped" in gateway_log
    assert run["report"]["on_kafka_by_gateway"]["sim"] > 0


def test_the_run_stopped_every_child_and_kept_its_pid_files_only_while_running(run):
    work: Path = run["work"]
    children = json.loads((work / "run.json").read_text())["children"]
    assert {c["kind"] for c in children} == {"spark", "gateway", "firmware"}
    assert list((work / "pids").iterdir()) == []
    assert "stopping gateways" in run["stdout"]


def test_report_command_refuses_a_folder_without_a_run(tmp_path):
    result = subprocess.run(
        [SENSORPIPE, "report", "--work-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "holds no local run" in result.stderr
