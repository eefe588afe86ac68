"""`sensorpipe-local run` end to end on the real stack: a simulated gateway and one firmware
node under simavr, the real Spark job, the dashboard, then the report.

The run is the one a user gets from an installed package: ``local/`` is built and installed
(not editable) into a folder of its own, and the run starts from a temporary directory with
that folder on PYTHONPATH, so that nothing it needs may come from the checkout's layout.
One run is shared by the module (Spark's start-up dominates the cost); each test checks one
promise of the runner against what the run left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.firmware.conftest import firmware  # noqa: F401 - shared fixture
from tests.integration.local.conftest import write_manifest

pytestmark = pytest.mark.integration

RUN_SECONDS = "15"
# Spark's start-up and first batches on a loaded 2-core machine take minutes, not seconds.
DRAIN_SECONDS = "900"
FIRMWARE_GATEWAY = "bench"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Any]:
    """sensorpipe-local built from a copy of ``local/`` and installed, not editable, into a
    folder of its own (its dependencies are this environment's); the environment and the
    folder a command needs to run it from there, and where it imports the package from."""
    folder = tmp_path_factory.mktemp("installed")
    source, site = folder / "source", folder / "site"
    shutil.copytree(ROOT / "local", source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    shutil.rmtree(source)  # what runs is the installed copy only
    cwd = folder / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import sensorpipe_local; print(sensorpipe_local.__file__)"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {
        "command": str(site / "bin" / "sensorpipe-local"),
        "env": env,
        "cwd": cwd,
        "site": site,
        "imported": Path(where.stdout.strip()),
    }


@pytest.fixture(scope="module")
def run(stack, installed, firmware, tmp_path_factory) -> dict[str, Any]:  # noqa: F811
    folder = tmp_path_factory.mktemp("local-run")
    name = f"local-{secrets.token_hex(3)}"
    manifest = write_manifest(folder / "pipeline.yaml", name)
    work = folder / "work"
    proc = subprocess.run(
        [
            installed["command"], "run", "-f", str(manifest),
            "--bootstrap", stack["KAFKA_BOOTSTRAP"],
            "--work-dir", str(work),
            "--duration", RUN_SECONDS,
            "--drain-timeout", DRAIN_SECONDS,
            "--firmware-node", FIRMWARE_GATEWAY,
            "--firmware-build", str(firmware),
            "--dashboard-port", "0",
        ],
        cwd=installed["cwd"], env=installed["env"],
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


def test_the_run_came_from_the_installed_package_outside_the_checkout(run, installed):
    assert installed["imported"].is_relative_to(installed["site"]), installed["imported"]
    assert not installed["cwd"].is_relative_to(ROOT)
    assert "dashboard: http://127.0.0.1:" in run["stdout"]  # its page is package data


def test_the_report_command_writes_the_report_again_from_the_work_dir(run, installed):
    page = run["report_dir"] / "report.html"
    page.unlink()
    result = subprocess.run(
        [installed["command"], "report", "--work-dir", str(run["work"])],
        cwd=installed["cwd"], env=installed["env"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(page)
    again = json.loads((run["report_dir"] / "report.json").read_text())
    assert again["lake_rows"] == run["report"]["lake_rows"]
    assert again["plotted_fields"] == run["report"]["plotted_fields"]


def test_the_report_plots_every_declared_field_with_its_unit(run):
    report = run["report"]
    declared = [f["name"] for f in report["fields"]]
    assert {"temperature", "humidity"} <= set(declared), report["fields"]
    for device, drawn in report["plotted_fields"].items():
        assert drawn, device
        assert set(drawn) <= set(declared), (device, drawn)
    page = (run["report_dir"] / "report.html").read_text()
    assert "temperature (°C)" in page


def test_report_command_refuses_a_folder_without_a_run(tmp_path, installed):
    result = subprocess.run(
        [installed["command"], "report", "--work-dir", str(tmp_path)],
        cwd=installed["cwd"], env=installed["env"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "holds no local run" in result.stderr
