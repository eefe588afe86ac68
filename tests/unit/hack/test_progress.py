"""Set-up's progress (hack/lib.sh): each step says "[n of m]" and its time, a long step says
what it is doing while it runs, and the run ends with a summary of every step's time."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.unit

SCRIPT = """
source "$1/hack/lib.sh"
progress_plan fetch build firmware
nested() {
  step build-inner bash -c \
    'printf "\\033[0mcompiling k8s.io/apiserver\\n\\033[0m\\n"; sleep 3; echo linking'
}
step fetch bash -c 'echo fetched' & fetch_pid=$!
step build nested
wait "$fetch_pid"
step extra true
progress_summary
"""


def run_progress(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script, "_", str(ROOT)],
        env={
            "PATH": "/usr/bin:/bin",
            "SENSORPIPE_CACHE": str(tmp_path),
            "SENSORPIPE_HEARTBEAT": "1",
            "TMPDIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_steps_count_time_beat_and_sum_up(tmp_path: Path):
    proc = run_progress(tmp_path, SCRIPT)
    out = proc.stderr
    assert proc.returncode == 0, out
    assert re.search(r"\[1 of 3\] fetch done in \d+s", out), out
    assert re.search(r"\[2 of 3\] build \.\.\.", out), out
    # A long step says, while it runs, what the step nested in it is doing.
    beat = r"\[2 of 3\] build still running after \d+s \(build-inner\): compiling k8s.io/apiserver"
    assert re.search(beat, out), out
    assert re.search(r"\[2 of 3\] build done in [3-9]s", out), out
    # A step the plan did not name joins it rather than breaking the count.
    assert re.search(r"\[4 of 4\] extra done in \d+s", out), out
    summary = out[out.index("summary") :]
    assert [line.split()[0] for line in summary.splitlines()[1:]] == [
        "fetch",
        "build",
        "firmware",
        "extra",
    ]
    assert re.search(r"firmware\s+-\s+not run", summary)
    # Nested steps write into their outer step's log, not over the progress lines.
    assert "build-inner ..." not in out
    assert "build-inner done" not in out
    assert "build-inner done" in (tmp_path / "logs" / "build.log").read_text()
    # The heartbeat ends with its step: nothing prints "Terminated", no temp dir is left.
    assert "Terminated" not in out
    assert not list(tmp_path.glob("sensorpipe-progress.*"))


def test_a_failed_step_is_named_with_its_log_tail_and_time(tmp_path: Path):
    proc = run_progress(
        tmp_path,
        'source "$1/hack/lib.sh"; progress_plan one; step one bash -c "echo why it broke; exit 3"',
    )
    assert proc.returncode == 1
    assert re.search(r"ERROR: step 'one' failed after \d+s \(full log: .*one\.log\)", proc.stderr)
    assert "why it broke" in proc.stderr
