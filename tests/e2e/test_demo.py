"""`make demo`'s own script, end to end on the session's stack.

`hack/demo.sh` starts the operator against the local API server and applies the demo
pipeline, runs that spec with the local runner (a simulated fleet and one firmware node under
simavr), and ends with the report. The stack is already up, so the script leaves it running.
With 20 s of data it takes about five minutes on two cores, most of it Spark starting.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / ".cache" / "demo" / "run" / "report"


def test_demo_gets_the_pipeline_ready_and_ends_with_its_report(stack: dict[str, str]) -> None:
    run = subprocess.run(
        ["bash", str(ROOT / "hack" / "demo.sh")],
        env={**os.environ, **stack, "DEMO_DURATION": "20"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    # while the job ran, the operator said Ready (within the first wait or later)
    assert "the operator reports the pipeline Ready" in out, out[-4000:]
    # once the run is over, it follows the stopped job
    assert "SparkApplication is COMPLETED" in out, out[-4000:]

    report = json.loads((REPORT / "report.json").read_text())
    assert report["pipeline"] == "demo"
    assert report["lake_rows"] > 0
    assert report["lake_duplicates"] == 0
    assert report["kafka_duplicates"] == 0
    assert report["device_aggregates"]
    assert report["plots"]
    page = (REPORT / "report.html").read_text()
    for plot in report["plots"].values():
        assert (REPORT / plot).is_file()
        assert f'src="{plot}"' in page
