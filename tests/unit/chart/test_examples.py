"""examples/ and the GitOps examples, checked without a cluster.

The examples are what users copy first, so they must stay SensorPipelines of the current API
(applied to the real API server in tests/integration/chart/) and apply in any namespace. The Argo
CD health check is Lua that Argo CD runs (gopher-lua, Lua 5.1): it runs here on Lua 5.1 over the
statuses the operator writes, and the GitOps values must pass the chart's schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.render import CHART, ROOT, helm_template

pytestmark = pytest.mark.unit

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
GITOPS = ROOT / "examples" / "gitops"
HEALTH_LUA = GITOPS / "argocd" / "sensorpipeline-health.lua"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_the_four_examples_exist() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "minimal.yaml",
        "arduino-line.yaml",
        "fleet-1000.yaml",
        "sinks-postgres-delta.yaml",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_one_namespace_free_sensorpipeline(path: Path) -> None:
    (doc,) = load_all(path)
    assert doc["apiVersion"] == "iot.sensorpipe.dev/v1alpha1"
    assert doc["kind"] == "SensorPipeline"
    assert doc["metadata"]["name"] == path.stem
    assert "namespace" not in doc["metadata"], "examples apply into the user's namespace"
    assert doc["spec"]["streams"]
    assert doc["spec"]["gateways"]


def test_arduino_line_has_the_three_sensors_of_the_seeds() -> None:
    (doc,) = load_all(ROOT / "examples" / "arduino-line.yaml")
    fields = {f["name"] for s in doc["spec"]["streams"] for f in s["fields"]}
    assert fields == {"temperature", "humidity", "distance", "motion"}
    (gateway,) = doc["spec"]["gateways"]
    assert gateway["source"]["type"] == "serial"


def test_fleet_simulates_a_thousand_devices_and_scales() -> None:
    (doc,) = load_all(ROOT / "examples" / "fleet-1000.yaml")
    (gateway,) = doc["spec"]["gateways"]
    assert gateway["source"]["simulated"]["devices"] == 1000
    scaling = doc["spec"]["scaling"]
    assert scaling["enabled"] is True
    assert scaling["maxReplicas"] <= doc["spec"]["kafka"]["topicDefaults"]["partitions"]


def test_sinks_example_uses_postgres_by_secret_reference_and_delta() -> None:
    (doc,) = load_all(ROOT / "examples" / "sinks-postgres-delta.yaml")
    sinks = doc["spec"]["processing"]["sinks"]
    assert sinks["lake"]["format"] == "delta"
    assert set(sinks["postgres"]["secretRef"]) == {"name", "key"}


def lua_health(obj: dict[str, Any]) -> dict[str, str]:
    from lupa import lua51

    lua = lua51.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value: Any) -> Any:
        if isinstance(value, dict):
            return lua.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return lua.table_from([to_lua(v) for v in value])
        return value

    check = lua.eval("function(obj) " + HEALTH_LUA.read_text() + " end")
    result = check(to_lua(obj))
    return {"status": result["status"], "message": result["message"]}


def pipeline(generation: int = 2, **status: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "p", "generation": generation}}
    if status:
        obj["status"] = status
    return obj


def ready(state: str, reason: str = "AllReady", message: str = "m") -> dict[str, str]:
    return {"type": "Ready", "status": state, "reason": reason, "message": message}


HEALTH_CASES = {
    "no-status": (pipeline(), "Progressing"),
    "old-generation": (pipeline(observedGeneration=1, conditions=[ready("True")]), "Progressing"),
    "ready": (
        pipeline(observedGeneration=2, phase="Ready", conditions=[ready("True")]),
        "Healthy",
    ),
    "not-ready-yet": (
        pipeline(
            observedGeneration=2, phase="Progressing", conditions=[ready("False", "Progressing")]
        ),
        "Progressing",
    ),
    "degraded-phase": (
        pipeline(observedGeneration=2, phase="Degraded", conditions=[ready("False", "Degraded")]),
        "Degraded",
    ),
    "failed-phase": (
        pipeline(observedGeneration=2, phase="Failed", conditions=[ready("False", "InvalidSpec")]),
        "Degraded",
    ),
    "stalled": (
        pipeline(
            observedGeneration=2,
            conditions=[
                ready("False", "PartitionDecrease"),
                {
                    "type": "Stalled",
                    "status": "True",
                    "reason": "PartitionDecrease",
                    "message": "x",
                },
            ],
        ),
        "Degraded",
    ),
    "no-conditions": (pipeline(observedGeneration=2, phase="Progressing"), "Progressing"),
}


@pytest.mark.parametrize("case", HEALTH_CASES.values(), ids=HEALTH_CASES.keys())
def test_argocd_health_check(case: tuple[dict[str, Any], str]) -> None:
    obj, expected = case
    health = lua_health(obj)
    assert health["status"] == expected
    assert health["message"]


def test_argocd_kustomization_installs_the_health_check_under_argos_key() -> None:
    (kustomization,) = load_all(GITOPS / "argocd" / "kustomization.yaml")
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == "argocd-cm"
    key, _, file = generator["files"][0].partition("=")
    assert key == "resource.customizations.health.iot.sensorpipe.dev_SensorPipeline"
    assert (GITOPS / "argocd" / file) == HEALTH_LUA


def helm_values_pass_the_schema(helm: str, values: dict[str, Any], tmp_path: Path) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    helm_template(helm, "-f", str(values_file))


def test_argocd_application_values_pass_the_chart_schema(helm: str, tmp_path: Path) -> None:
    operator_app = load_all(GITOPS / "argocd" / "application.yaml")[0]
    source = operator_app["spec"]["source"]
    assert source["path"] == "charts/sensorpipe"
    assert source["helm"]["skipCrds"] is True
    helm_values_pass_the_schema(helm, source["helm"]["valuesObject"], tmp_path)


def test_flux_helmrelease_targets_this_chart_and_passes_the_schema(
    helm: str, tmp_path: Path
) -> None:
    docs = {d["kind"]: d for d in load_all(GITOPS / "flux" / "helmrelease.yaml")}
    release = docs["HelmRelease"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    spec = release["spec"]["chart"]["spec"]
    assert spec["chart"] == chart["name"]
    assert chart["version"].startswith(spec["version"].removesuffix("x"))
    assert spec["sourceRef"]["name"] == docs["HelmRepository"]["metadata"]["name"]
    assert (
        release["spec"]["install"]["crds"] == release["spec"]["upgrade"]["crds"] == "CreateReplace"
    )
    assert docs["Kustomization"]["spec"]["wait"] is True
    helm_values_pass_the_schema(helm, release["spec"]["values"], tmp_path)


def operator_status(generation: int, **checks: tuple[bool, bool]) -> dict[str, Any]:
    """The status the operator's one status writer computes from (ok, failed) per condition."""
    from sensorpipe_operator.status import Check, compute

    verdicts = {
        t: Check(ok, "Reason", "message", failed=failed) for t, (ok, failed) in checks.items()
    }
    return dict(compute(generation, verdicts))


def test_argocd_health_reads_the_status_the_operator_writes() -> None:
    """Argo CD's view of each phase the operator's status writer can produce."""
    good, waiting, broken = (True, False), (False, False), (False, True)
    cases = {
        "Healthy": operator_status(3, TopicsReady=good, ProcessingReady=good, GatewaysReady=good),
        "Progressing": operator_status(3, TopicsReady=good, ProcessingReady=waiting),
        "Degraded": operator_status(3, TopicsReady=broken, ProcessingReady=good),
    }
    for expected, status in cases.items():
        obj = {"metadata": {"name": "p", "generation": 3}, "status": status}
        assert lua_health(obj)["status"] == expected, status
    stale = {"metadata": {"name": "p", "generation": 4}, "status": cases["Healthy"]}
    assert lua_health(stale)["status"] == "Progressing"
