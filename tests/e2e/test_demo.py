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
from PIL import Image

from tests.browser import screenshot

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / ".cache" / "demo" / "run" / "report"


def test_demo_gets_the_pipeline_ready_and_ends_with_its_report(
    stack: dict[str, str], tmp_path: Path
) -> None:
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
    # its progress: five numbered stages in order, one stream of lines, a clean end
    at = [out.index(f"[{n} of 5] ") for n in range(1, 6)]
    assert at == sorted(at), out[-4000:]
    assert "Terminated" not in out, out[-4000:]
    assert "demo finished in" in out.splitlines()[-1], out[-2000:]

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
    # every declared field of the demo's streams is drawn, with its unit
    drawn = {f for fields in report["plotted_fields"].values() for f in fields}
    assert drawn == {f["name"] for f in report["fields"]}, report["plotted_fields"]
    # the summary balances and the runner printed the same figures
    balance = report["balance"]
    assert balance["unique readings on Kafka"] == (
        balance["rows in the lake"] + balance["refused by the Spark job"]
    ), balance
    assert f"rows in the lake {balance['rows in the lake']}" in out
    # the first screen in a browser shows the plots
    shot = screenshot(
        (REPORT / "report.html").as_uri(), tmp_path / "report.png", tmp_path / "profile"
    )
    colours = {c: n for n, c in Image.open(shot).convert("RGB").getcolors(1 << 22) or []}
    assert colours.get((0x1F, 0x77, 0xB4), 0) > 500, f"no plot in the first screen of {shot}"
