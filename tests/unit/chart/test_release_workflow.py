"""The release workflow (.github/workflows/release.yaml) cannot run here (no registry, no
Docker), so its configuration is checked against what it must agree with: the Dockerfiles,
the chart's image values and version, the pinned helm, and the install instructions that name
the OCI chart. Its version check, a shell step, is run for real."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.render import CHART, ROOT, pinned_versions

pytestmark = pytest.mark.unit

WORKFLOW = ROOT / ".github" / "workflows" / "release.yaml"
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def steps(workflow: dict[Any, Any], job: str) -> list[dict[str, Any]]:
    return list(workflow["jobs"][job]["steps"])


def test_runs_on_release_tags_only(workflow: dict[Any, Any]):
    trigger = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(trigger, dict)
    assert set(trigger) == {"push"}
    assert trigger["push"]["tags"] == ["v[0-9]+.[0-9]+.[0-9]+"]


def test_builds_every_image_the_chart_names_from_its_dockerfile(workflow: dict[Any, Any]):
    prefix = workflow["env"]["IMAGE_PREFIX"]
    matrix = workflow["jobs"]["images"]["strategy"]["matrix"]["include"]
    built = {f"{prefix}/{m['image']}": m["dockerfile"] for m in matrix}
    assert set(built.values()) == {str(p.relative_to(ROOT)) for p in ROOT.glob("*/Dockerfile")}
    named = {VALUES["image"]["repository"], *VALUES["childImages"].values()}
    assert named == set(built), "the chart names images the release does not build"
    (push,) = [s for s in steps(workflow, "images") if "build-push-action" in s.get("uses", "")]
    assert push["with"]["context"] == "."  # the Dockerfiles copy from the repository root
    assert push["with"]["tags"].endswith(":${{ needs.version.outputs.version }}")


def test_pushes_the_chart_where_the_docs_install_it_from(workflow: dict[Any, Any]):
    repository = workflow["env"]["CHART_REPOSITORY"]
    assert repository.startswith("oci://")
    run = "\n".join(s.get("run", "") for s in steps(workflow, "chart"))
    assert 'helm push "dist/sensorpipe-${{ needs.version.outputs.version }}.tgz"' in run
    assert workflow["env"]["HELM_VERSION"] == pinned_versions()["HELM_VERSION"]
    install = f"helm install sensorpipe {repository}/sensorpipe --version {CHART_META['version']}"
    for doc in ("README.md", "docs/operations.md"):
        assert install in (ROOT / doc).read_text().replace("\\\n  ", ""), doc
    flux = (ROOT / "examples" / "gitops" / "flux" / "helmrelease.yaml").read_text()
    assert f"url: {repository}" in flux


def test_every_action_is_pinned_to_a_release(workflow: dict[Any, Any]):
    uses = [s["uses"] for job in workflow["jobs"] for s in steps(workflow, job) if "uses" in s]
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w-]+/[\w-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", action), action


def run_version_check(workflow: dict[Any, Any], tag: str, tmp_path: Path) -> tuple[int, str]:
    (step,) = [s for s in steps(workflow, "version") if s.get("id") == "version"]
    output = tmp_path / "output"
    output.write_text("")
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=ROOT,
        env={**os.environ, "GITHUB_REF_NAME": tag, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, output.read_text() + proc.stderr


def test_version_check_passes_the_charts_own_tag_and_refuses_another(
    workflow: dict[Any, Any], tmp_path: Path
):
    version = CHART_META["version"]
    assert CHART_META["appVersion"] == version
    rc, out = run_version_check(workflow, f"v{version}", tmp_path)
    assert (rc, out.strip()) == (0, f"version={version}")
    rc, out = run_version_check(workflow, "v99.0.0", tmp_path)
    assert rc == 1
    assert "tag v99.0.0 but Chart.yaml has version" in out


def test_notes_and_gitops_examples_are_pinned_to_the_release():
    tag = f"v{CHART_META['version']}"
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    assert "/v{{ .Chart.AppVersion }}/examples/" in notes
    argocd = list(
        yaml.safe_load_all((ROOT / "examples/gitops/argocd/application.yaml").read_text())
    )
    assert {a["spec"]["source"]["targetRevision"] for a in argocd} == {tag}
    flux = list(yaml.safe_load_all((ROOT / "examples/gitops/flux/helmrelease.yaml").read_text()))
    by_kind = {d["kind"]: d for d in flux}
    assert by_kind["HelmRelease"]["spec"]["chart"]["spec"]["version"] == CHART_META["version"]
    assert by_kind["GitRepository"]["spec"]["ref"] == {"tag": tag}
    for path in [CHART / "templates" / "NOTES.txt", *(ROOT / "examples" / "gitops").rglob("*")]:
        if path.is_file():
            assert not re.search(r"\b(branch: main|targetRevision: main|/main/)", path.read_text())
