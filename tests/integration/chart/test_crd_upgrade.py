"""The CRD upgrade path of docs/operations.md, run with the real helm against the stack.

Helm installs a chart's `crds/` once and never upgrades it. A release installed that way holds
a CRD without Helm's ownership label and annotations, so turning on `crds.upgrade` (which
renders the same CRD as a template) is refused with "invalid ownership metadata" until the
release takes the CRD over: `helm upgrade --take-ownership` (Helm 3.17+). After that, every
`helm upgrade` updates the CRD, and `helm uninstall` keeps it.

The chart is copied with its CRD moved to a group of this test's own, so that the stack's real
`sensorpipelines.iot.sensorpipe.dev` (shared by every other test) is never touched; the
copy's templates are the chart's own.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.render import CHART
from tests.conftest import kubectl

from .conftest import helm

pytestmark = pytest.mark.integration

GROUP = "iot.sensorpipe.dev"
SPEC = ("spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties")


def chart_copy(root: Path, group: str, *, without: str | None) -> Path:
    """The chart with its SensorPipeline CRD in ``group`` (and no other CRD); ``without`` drops
    one property of the spec, which makes it the older CRD of an upgrade."""
    chart = root / ("old" if without else "new") / "sensorpipe"
    shutil.copytree(CHART, chart)
    for extra in (chart / "crds").glob("*.yaml"):
        if extra.name != "sensorpipeline.yaml":
            extra.unlink()
    path = chart / "crds" / "sensorpipeline.yaml"
    crd = yaml.safe_load(path.read_text().replace(GROUP, group))
    if without:
        spec = crd
        for key in SPEC[:-1]:
            spec = spec[key]
        del spec["properties"][without]
        # with the CEL rules that name it, as a CRD from before the property had none
        rules = spec.get("x-kubernetes-validations", [])
        spec["x-kubernetes-validations"] = [r for r in rules if f"self.{without}" not in r["rule"]]
    path.write_text(yaml.safe_dump(crd))
    return chart


def crd(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load(kubectl("get", "crd", name, "-o", "yaml")))


def spec_properties(found: dict[str, Any]) -> dict[str, Any]:
    properties: Any = found
    for key in SPEC:
        properties = properties[key]
    return dict(properties)


@pytest.fixture
def upgrade_case(stack: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    suffix = secrets.token_hex(3)
    group = f"u{suffix}.upgrade.sensorpipe.dev"
    release, namespace = f"crdup{suffix}", f"crd-upgrade-{suffix}"
    kubectl("create", "namespace", namespace)
    try:
        yield release, namespace, group
    finally:
        helm("uninstall", release, "-n", namespace, check=False)
        kubectl("delete", "crd", f"sensorpipelines.{group}", "--ignore-not-found", check=False)
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_helm_upgrade_takes_over_and_updates_the_crd(
    upgrade_case: tuple[str, str, str], tmp_path: Path
) -> None:
    release, namespace, group = upgrade_case
    name = f"sensorpipelines.{group}"
    old = chart_copy(tmp_path, group, without="scaling")
    new = chart_copy(tmp_path, group, without=None)
    values = [
        "--set", "watch.scope=namespaces",
        "--set", "rbac.sparkDriverRole=false",
        "--set", "networkPolicy.enabled=false",
    ]  # fmt: skip

    # 1. The first install, as the quickstart does it: the CRD comes from crds/.
    helm("install", release, str(old), "-n", namespace, *values)
    installed = crd(name)
    assert "scaling" not in spec_properties(installed)
    assert "meta.helm.sh/release-name" not in (installed["metadata"].get("annotations") or {})
    pipeline = {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "SensorPipeline",
        "metadata": {"name": "kept", "namespace": namespace},
        "spec": yaml.safe_load((CHART.parent.parent / "examples" / "minimal.yaml").read_text())[
            "spec"
        ],
    }
    kubectl("wait", "--for", "condition=Established", f"crd/{name}", "--timeout=60s")
    kubectl("apply", "-f", "-", input_=yaml.safe_dump(pipeline))

    # 2. crds.upgrade alone is refused: the CRD is not the release's.
    refused = subprocess.run(
        ["helm", "upgrade", release, str(new), "-n", namespace, "--reuse-values",
         "--set", "crds.upgrade=true"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "invalid ownership metadata" in refused.stderr, refused.stderr
    assert name in refused.stderr, refused.stderr

    # 3. As docs/operations.md says: --take-ownership once.
    helm("upgrade", release, str(new), "-n", namespace, "--reuse-values",
         "--set", "crds.upgrade=true", "--take-ownership")  # fmt: skip
    upgraded = crd(name)
    assert "scaling" in spec_properties(upgraded)
    annotations = upgraded["metadata"]["annotations"]
    assert annotations["meta.helm.sh/release-name"] == release
    assert annotations["helm.sh/resource-policy"] == "keep"
    assert upgraded["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"

    # 4. From then on a plain upgrade updates the CRD (here: back to the older schema).
    helm("upgrade", release, str(old), "-n", namespace, "--reuse-values")
    assert "scaling" not in spec_properties(crd(name))
    helm("upgrade", release, str(new), "-n", namespace, "--reuse-values")
    assert "scaling" in spec_properties(crd(name))

    # 5. Uninstall keeps the CRD and every pipeline.
    helm("uninstall", release, "-n", namespace)
    assert crd(name)["metadata"]["name"] == name
    assert kubectl("get", f"sensorpipelines.{group}", "kept", "-n", namespace, "-o", "name")
