"""The Helm chart rendered with `helm lint` and `helm template`, no cluster needed.

These pin down what a user of the chart is promised: every ci/ values file renders, the
schema refuses wrong values, the operator Pod is hardened, RBAC is exactly the operator's rules
file, and the generated files (chart CRDs, install.yaml, README) never drift from their source.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import render
from deploy.render import CHART, ROOT, helm_template, parse_documents
from sensorpipe_operator.builders.rolebinding import SPARK_DRIVER_CLUSTER_ROLE

pytestmark = pytest.mark.unit

CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RULES = yaml.safe_load((CHART / "files" / "operator-rules.yaml").read_text())
DRIVER_RULES = yaml.safe_load((CHART / "files" / "spark-driver-rules.yaml").read_text())["rules"]


@pytest.fixture(scope="module")
def defaults(helm: str) -> list[dict[str, Any]]:
    """The chart rendered with its default values, shared by the tests that only read it."""
    return template(helm)


def template(helm: str, *args: str, include_crds: bool = True) -> list[dict[str, Any]]:
    return parse_documents(
        helm_template(helm, *args, release="sp", namespace="iot-ops", include_crds=include_crds)
    )


def only(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return [d["kind"] for d in docs]


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_helm_lint_strict(helm: str, values: Path | None) -> None:
    extra = ["-f", str(values)] if values else []
    proc = subprocess.run(
        [helm, "lint", "--strict", str(CHART), *extra], check=False, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
def test_helm_template_renders_named_objects(helm: str, values: Path | None) -> None:
    docs = template(helm, *(["-f", str(values)] if values else []))
    assert "Deployment" in kinds(docs)
    for doc in docs:
        assert doc["apiVersion"], doc
        assert doc["metadata"]["name"], doc
        if doc["kind"] not in {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}:
            assert doc["metadata"].get("namespace"), f"{doc['kind']} has no namespace"


WRONG_VALUES = {
    "unknown-scope": ["--set", "watch.scope=everywhere"],
    "typo-key": ["--set", "operator.replica=2"],
    "pull-policy": ["--set", "image.pullPolicy=Sometimes"],
    "replicas-without-peering": ["--set", "operator.replicas=2"],
    "writable-root": ["--set", "operator.securityContext.readOnlyRootFilesystem=false"],
    "privilege-escalation": ["--set", "operator.securityContext.allowPrivilegeEscalation=true"],
    "root-user": ["--set", "operator.podSecurityContext.runAsNonRoot=false"],
    "metrics-port-string": ["--set-string", "metrics.port=9090"],
    "metrics-on-health-port": ["--set", "metrics.port=8081"],
    "bad-digest": ["--set", "image.digest=md5:abc"],
    "bad-namespace": ["--set", "watch.scope=namespaces", "--set", "watch.namespaces[0]=Not_DNS"],
    "log-level": ["--set", "operator.logLevel=chatty"],
    "device-outside-dev": ["--set", "devices.allowedPaths[0]=/etc/shadow"],
    "device-resource-without-domain": ["--set", "devices.allowedResources[0]=serial"],
    "no-dropped-caps": ["--set", "operator.securityContext.capabilities.drop[0]=NET_RAW"],
}


@pytest.mark.parametrize("args", WRONG_VALUES.values(), ids=WRONG_VALUES.keys())
def test_schema_refuses_wrong_values(helm: str, args: list[str]) -> None:
    with pytest.raises(subprocess.CalledProcessError) as failed:
        helm_template(helm, *args)
    assert "values don't meet the specifications of the schema" in failed.value.stderr


def test_operator_pod_is_hardened(defaults: list[dict[str, Any]]) -> None:
    deployment = only(defaults, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"]


def test_probes_ports_and_env_follow_the_operator_contract(defaults: list[dict[str, Any]]) -> None:
    deployment = only(defaults, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["--liveness=http://0.0.0.0:8081/healthz"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8081, "metrics": 9090}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENSORPIPE_WATCH_NAMESPACES"] == ""
    assert env["SENSORPIPE_PEERING"] == ""
    assert env["SENSORPIPE_METRICS_PORT"] == "9090"
    for child in ("GATEWAY", "SPARK", "CONSUMER"):
        assert env[f"SENSORPIPE_{child}_IMAGE"].startswith("ghcr.io/sensorpipe/")
    assert "SENSORPIPE_ALLOWED_DEVICES" not in env  # the operator's own default
    assert "SENSORPIPE_ALLOWED_DEVICE_RESOURCES" not in env
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_the_admin_allows_devices_through_the_chart(helm: str) -> None:
    args = ["--set", "devices.allowedPaths={/dev/ttyAMA0,/dev/ttyUSB*}"]
    (container,) = only(template(helm, *args), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENSORPIPE_ALLOWED_DEVICES"] == "/dev/ttyAMA0,/dev/ttyUSB*"


def test_the_admin_allows_device_plugin_resources_through_the_chart(helm: str) -> None:
    args = ["--set", "devices.allowedResources={sensorpipe.dev/serial,vendor.example/*}"]
    (container,) = only(template(helm, *args), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENSORPIPE_ALLOWED_DEVICE_RESOURCES"] == "sensorpipe.dev/serial,vendor.example/*"


def test_service_selects_the_operator_metrics_port(defaults: list[dict[str, Any]]) -> None:
    docs = defaults
    service = only(docs, "Service")
    pod_labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]


def operator_cluster_roles(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRoles that hold the operator's own rights (not the Spark driver's)."""
    return [
        d
        for d in docs
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] != SPARK_DRIVER_CLUSTER_ROLE
    ]


def spark_driver_role(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = [d for d in docs if d["metadata"]["name"] == SPARK_DRIVER_CLUSTER_ROLE]
    assert len(found) <= 1
    return found[0] if found else None


def test_cluster_scope_grants_exactly_the_operator_rules(defaults: list[dict[str, Any]]) -> None:
    docs = defaults
    (role,) = operator_cluster_roles(docs)
    assert role["rules"] == RULES["namespaced"] + RULES.get("clusterWide", [])
    binding = only(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sp-sensorpipe", "namespace": "iot-ops"}
    ]
    assert "Role" not in kinds(docs)


def test_namespaced_scope_has_a_role_per_namespace_and_no_cluster_rights(helm: str) -> None:
    docs = template(helm, "-f", str(CHART / "ci" / "namespaced-values.yaml"))
    roles = [d for d in docs if d["kind"] == "Role"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["iot-farm", "iot-lab"]
    for role in roles:
        assert role["rules"] == RULES["namespaced"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["iot-farm", "iot-lab"]
    # The driver's ClusterRole is there, but no binding gives the operator anything cluster-wide.
    assert not operator_cluster_roles(docs)
    assert "ClusterRoleBinding" not in kinds(docs)
    assert spark_driver_role(docs) is not None
    (container,) = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENSORPIPE_WATCH_NAMESPACES"] == "iot-farm,iot-lab"


def test_namespaced_scope_defaults_to_the_release_namespace(helm: str) -> None:
    docs = template(helm, "--set", "watch.scope=namespaces")
    assert [r["metadata"]["namespace"] for r in docs if r["kind"] == "Role"] == ["iot-ops"]


def test_operator_rules_have_no_wildcards_and_never_list_secrets() -> None:
    rules = RULES["namespaced"] + RULES.get("clusterWide", [])
    assert rules
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
            assert not any("*" in item for item in rule[key]), rule
        if "secrets" in rule["resources"]:
            assert set(rule["verbs"]) <= {"get"}, f"secrets beyond reading one by name: {rule}"


@pytest.mark.parametrize("values", [None, CHART / "ci" / "namespaced-values.yaml"], ids=str)
def test_spark_driver_clusterrole_is_the_rules_file_verbatim(
    helm: str, values: Path | None
) -> None:
    docs = template(helm, *(["-f", str(values)] if values else []))
    role = spark_driver_role(docs)
    assert role is not None
    assert role["kind"] == "ClusterRole"
    assert role["rules"] == DRIVER_RULES
    assert not [d for d in docs if d.get("roleRef", {}).get("name") == SPARK_DRIVER_CLUSTER_ROLE]


def test_spark_driver_clusterrole_can_be_left_to_another_release(helm: str) -> None:
    """The name is fixed, so a second release in the same cluster must not create it again."""
    docs = template(helm, "--set", "rbac.sparkDriverRole=false")
    assert spark_driver_role(docs) is None
    assert operator_cluster_roles(docs), "the operator's own RBAC stays"


def test_operator_may_bind_only_the_spark_driver_clusterrole() -> None:
    """`bind` lets the operator grant the driver's rights without holding them; limited by name,
    it cannot bind any other role, and it can neither write roles nor `escalate`."""
    rules = RULES["namespaced"] + RULES.get("clusterWide", [])
    rbac = [r for r in rules if "rbac.authorization.k8s.io" in r["apiGroups"]]
    assert {(res, verb) for r in rbac for res in r["resources"] for verb in r["verbs"]} == {
        ("rolebindings", v) for v in ("get", "list", "watch", "create", "patch", "update", "delete")
    } | {("clusterroles", "bind")}
    (bind,) = [r for r in rbac if "bind" in r["verbs"]]
    assert bind["resourceNames"] == [SPARK_DRIVER_CLUSTER_ROLE]
    assert bind in RULES["namespaced"], "a namespaced-scope install binds through its Roles"
    assert not [r for r in rules if "escalate" in r["verbs"] or "impersonate" in r["verbs"]]


def test_spark_driver_rules_are_narrow() -> None:
    """Only executor pods and their ConfigMaps in the core group: no wildcard, no secrets, no
    subresource such as pods/exec, nothing outside the namespace it is bound in."""
    assert DRIVER_RULES
    for rule in DRIVER_RULES:
        assert rule["apiGroups"] == [""], rule
        assert set(rule["resources"]) <= {"pods", "configmaps"}, rule
        assert not any("*" in verb for verb in rule["verbs"]), rule
        assert "resourceNames" not in rule, rule
        assert "nonResourceURLs" not in rule, rule


def test_rbac_off_and_existing_service_account(helm: str) -> None:
    docs = template(helm, "-f", str(CHART / "ci" / "bare-values.yaml"))
    assert set(kinds(docs)) == {"CustomResourceDefinition", "Deployment"}
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "sensorpipe-existing"


def test_ha_values_pin_the_digest_and_roll(helm: str) -> None:
    docs = template(helm, "-f", str(CHART / "ci" / "ha-values.yaml"))
    deployment = only(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SENSORPIPE_PEERING"] == "sensorpipe"
    assert only(docs, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1,
        "selector": deployment["spec"]["selector"],
    }


def test_monitoring_values_render_servicemonitor_and_dashboard(helm: str) -> None:
    docs = template(helm, "-f", str(CHART / "ci" / "monitoring-values.yaml"))
    monitor = only(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    dashboard_cm = only(docs, "ConfigMap")
    assert dashboard_cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_cm["data"]["sensorpipe.json"])
    assert dashboard == json.loads((CHART / "files" / "dashboards" / "sensorpipe.json").read_text())
    assert only(docs, "PodMonitor")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert only(docs, "PrometheusRule")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    policy = only(docs, "NetworkPolicy")
    metrics_rule = policy["spec"]["ingress"][1]
    assert metrics_rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]


def test_crds_upgrade_renders_kept_crd_templates(helm: str) -> None:
    plain = template(helm, include_crds=False)
    assert "CustomResourceDefinition" not in kinds(plain)
    upgraded = template(
        helm, "-f", str(CHART / "ci" / "crds-upgrade-values.yaml"), include_crds=False
    )
    crds = [d for d in upgraded if d["kind"] == "CustomResourceDefinition"]
    assert {c["metadata"]["name"] for c in crds} == {d["metadata"]["name"] for d in chart_crds()}
    for crd in crds:
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def chart_crds() -> list[dict[str, Any]]:
    return [doc for path in sorted((CHART / "crds").glob("*.yaml")) for doc in load_all(path)]


def load_all(path: Path) -> list[dict[str, Any]]:
    return parse_documents(path.read_text())


def test_chart_crds_are_copies_of_the_crds_folder() -> None:
    assert (CHART / "crds" / "sensorpipeline.yaml").exists()
    for copy in sorted((CHART / "crds").glob("*.yaml")):
        source = ROOT / "crds" / copy.name
        assert copy.read_text() == source.read_text(), (
            f"charts/sensorpipe/crds/{copy.name} drifted from crds/{copy.name}: "
            "run python deploy/render.py"
        )


def test_install_yaml_and_kustomize_base_match_helm_template(helm: str) -> None:
    """render.py finds the same helm; asking for the fixture marks the test ``helm``."""
    assert render.main(["--check"]) == 0, "stale: run python deploy/render.py"


def test_install_yaml_holds_every_object_of_the_default_chart(helm: str) -> None:
    installed = load_all(ROOT / "deploy" / "install.yaml")
    rendered = parse_documents(helm_template(helm))
    assert installed[0]["kind"] == "Namespace"
    assert installed[1:] == rendered


def test_chart_readme_is_generated_from_values() -> None:
    proc = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            str(ROOT / "hack" / "gen-chart-docs.py"),
            "--check",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_value_is_documented() -> None:
    readme = (CHART / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| ") and "`" in line]
    assert rows
    for row in rows:
        description = row.rstrip("|").rsplit("|", 1)[1].strip()
        assert description, f"undocumented value: {row}"


def child_images(docs: list[dict[str, Any]]) -> dict[str, str]:
    container = only(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    images = {e["name"]: e.get("value", "") for e in container["env"] if "IMAGE" in e["name"]}
    return {"operator": container["image"], **images}


def test_child_images_follow_app_version_with_one_registry_override(helm: str) -> None:
    app = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert child_images(template(helm)) == {
        "operator": f"ghcr.io/sensorpipe/sensorpipe-operator:{app}",
        "SENSORPIPE_GATEWAY_IMAGE": f"ghcr.io/sensorpipe/sensorpipe-edge:{app}",
        "SENSORPIPE_SPARK_IMAGE": f"ghcr.io/sensorpipe/sensorpipe-spark:{app}",
        "SENSORPIPE_CONSUMER_IMAGE": f"ghcr.io/sensorpipe/sensorpipe-edge:{app}",
    }
    mirrored = child_images(template(helm, "--set", "global.imageRegistry=mirror.local:5000/iot"))
    assert all(ref.startswith("mirror.local:5000/iot/sensorpipe/") for ref in mirrored.values())
    assert all(ref.endswith(f":{app}") for ref in mirrored.values())
    # a reference with its own tag keeps it; a registry-less one gets the mirror in front
    pinned = child_images(
        template(helm, "--set", "childImages.spark=sensorpipe-spark:dev",
                 "--set", "global.imageRegistry=mirror.local")
    )  # fmt: skip
    assert pinned["SENSORPIPE_SPARK_IMAGE"] == "mirror.local/sensorpipe-spark:dev"
