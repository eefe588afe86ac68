"""The chart, install.yaml and the examples against the real local API server (RBAC on).

helm install/upgrade/uninstall for real, every rendered object through server-side dry-run,
an RBAC audit of what the chart's ServiceAccount can really do, and the operator started with
the chart's operator pod, on the real node, reconciling every example to Ready.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.render import CHART, ROOT, helm_template, parse_documents
from sensorpipe_operator.builders.rolebinding import SPARK_DRIVER_CLUSTER_ROLE
from tests.conftest import kubectl, wait_until
from tests.integration.operator.harness import (
    admin_kube,
    can_i,
    children,
    condition,
    get_pipeline,
    make_ready_as_strimzi_and_spark_operator,
)

from .conftest import Release, helm, install

pytestmark = pytest.mark.integration

RULES = yaml.safe_load((CHART / "files" / "operator-rules.yaml").read_text())
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
MANIFESTS = Path(__file__).parent / "manifests"


def dump(docs: list[dict[str, Any]]) -> str:
    return "".join("---\n" + yaml.safe_dump(doc) for doc in docs)


def server_dry_run(docs: list[dict[str, Any]]) -> str:
    """Server-side apply in dry-run: admission, schema and RBAC escalation checks, no change."""
    return kubectl(
        "apply", "--server-side", "--dry-run=server", "--force-conflicts",
        "--field-manager", "chart-test", "-f", "-", input_=dump(docs),
    )  # fmt: skip


def rule_pairs(rules: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(resource as `kubectl auth can-i --list` names it, verb) for every rule."""
    pairs = set()
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                base, _, sub = resource.partition("/")
                name = f"{base}.{group}" if group else base
                name = f"{name}/{sub}" if sub else name
                pairs |= {(name, verb) for verb in rule["verbs"]}
    return pairs


def can_i_list(user: str, namespace: str) -> set[tuple[str, str]]:
    """What `user` may do in `namespace`, as (resource, verb), from the API server itself."""
    out = kubectl("auth", "can-i", "--list", f"--as={user}", "-n", namespace, "--no-headers")
    pairs = set()
    for line in out.splitlines():
        columns = re.split(r"\s{2,}", line.strip())
        if len(columns) != 4 or columns[1] != "[]":
            continue  # non-resource URLs (/healthz, /api/*) are every user's discovery rights
        resource, _, _, verbs = columns
        pairs |= {(resource, verb) for verb in verbs.strip("[]").split()}
    return pairs


def granted(release: Release, namespace: str) -> set[tuple[str, str]]:
    """The rights the chart adds: the ServiceAccount's minus those of an account with none."""
    nobody = f"system:serviceaccount:{release.namespace}:nobody-{secrets.token_hex(3)}"
    return can_i_list(release.user, namespace) - can_i_list(nobody, namespace)


def assert_no_wildcards(pairs: set[tuple[str, str]]) -> None:
    wild = {p for p in pairs if "*" in p[0] or p[1] == "*"}
    assert not wild, f"wildcard rights: {sorted(wild)}"


@pytest.fixture(scope="module")
def monitoring_crds(stack: dict[str, str]) -> None:
    """prometheus-operator's ServiceMonitor, PodMonitor and PrometheusRule CRDs (small copies
    covering the fields the chart writes), so the monitoring values can be dry-run like
    everything else."""
    for manifest in ("servicemonitors-crd.yaml", "podmonitors-prometheusrules-crd.yaml"):
        kubectl("apply", "--server-side", "-f", str(MANIFESTS / manifest))
    for plural in ("servicemonitors", "podmonitors", "prometheusrules"):
        kubectl("wait", "--for=condition=Established", f"crd/{plural}.monitoring.coreos.com")


CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda v: v.name if v else "defaults")
@pytest.mark.usefixtures("monitoring_crds")
def test_every_rendered_object_passes_server_side_dry_run(
    kube_namespace: str, values: Path | None
) -> None:
    args = ["-f", str(values)] if values else []
    if values and values.name == "namespaced-values.yaml":
        args += ["--set", f"watch.namespaces={{{kube_namespace}}}"]
    with_crds = not (values and values.name == "crds-upgrade-values.yaml")
    docs = parse_documents(
        helm_template(
            "helm", *args, release="dry", namespace=kube_namespace, include_crds=with_crds
        )
    )
    out = server_dry_run(docs)
    assert out.count("(server dry run)") == len(docs), out


def test_install_yaml_and_kustomize_base_pass_server_side_dry_run(kube_namespace: str) -> None:
    """install.yaml into a namespace of the test's (its own Namespace cannot be dry-run first)."""
    installed = parse_documents((ROOT / "deploy" / "install.yaml").read_text())
    text = dump([d for d in installed if d["kind"] != "Namespace"])
    docs = parse_documents(
        text.replace("namespace: sensorpipe-system", f"namespace: {kube_namespace}")
    )
    out = server_dry_run(docs)
    assert out.count("(server dry run)") == len(docs), out
    kustomized = parse_documents(kubectl("kustomize", str(ROOT / "deploy" / "kustomize")))
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(kustomized, key=key) == sorted(installed, key=key)


def test_cluster_scope_install_rbac_upgrade_uninstall(
    stack: dict[str, str], node_images: dict[str, str]
) -> None:
    suffix = secrets.token_hex(3)
    release = Release(f"cl{suffix}", f"chart-cl-{suffix}", "")
    kubectl("create", "namespace", release.namespace)
    try:
        install(release, node_images)
        deployment = json.loads(
            kubectl("get", "deployment", release.fullname, "-n", release.namespace, "-o", "json")
        )
        assert deployment["status"]["availableReplicas"] == 1
        manifest = parse_documents(helm("get", "manifest", release.name, "-n", release.namespace))
        for doc in manifest:
            ns = ["-n", doc["metadata"]["namespace"]] if "namespace" in doc["metadata"] else []
            kubectl("get", doc["kind"], doc["metadata"]["name"], *ns)

        # RBAC audit: exactly the operator's rules, in any namespace, and no wildcard.
        rights = granted(release, "default")
        assert_no_wildcards(rights)
        assert rights == rule_pairs(RULES["namespaced"] + RULES["clusterWide"])

        helm(
            "upgrade", release.name, str(CHART), "-n", release.namespace, "--reuse-values",
            "--set", "operator.logLevel=DEBUG", "--wait", "--timeout", "180s",
        )  # fmt: skip
        status = json.loads(helm("status", release.name, "-n", release.namespace, "-o", "json"))
        assert (status["version"], status["info"]["status"]) == (2, "deployed")
        env = json.loads(
            kubectl("get", "deployment", release.fullname, "-n", release.namespace, "-o", "json")
        )["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": "SENSORPIPE_LOG_LEVEL", "value": "DEBUG"} in env

        helm("uninstall", release.name, "-n", release.namespace, "--wait")
        for doc in manifest:
            ns = ["-n", doc["metadata"]["namespace"]] if "namespace" in doc["metadata"] else []
            left = kubectl("get", doc["kind"], doc["metadata"]["name"], *ns, "--ignore-not-found")
            assert not left.strip(), f"{doc['kind']} {doc['metadata']['name']} left after uninstall"
        # Helm never deletes crds/: deleting it would delete every SensorPipeline.
        kubectl("get", "crd", "sensorpipelines.iot.sensorpipe.dev")
    finally:
        helm("uninstall", release.name, "-n", release.namespace, check=False)
        kubectl("delete", "namespace", release.namespace, "--wait=false", check=False)


def test_namespaced_rbac_grants_only_the_watched_namespace(namespaced_release: Release) -> None:
    inside = granted(namespaced_release, namespaced_release.watched)
    assert_no_wildcards(inside)
    assert inside == rule_pairs(RULES["namespaced"])
    assert granted(namespaced_release, namespaced_release.namespace) == set()
    assert granted(namespaced_release, "default") == set()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_applies_server_side(kube_namespace: str, path: Path) -> None:
    out = kubectl("apply", "--server-side", "-n", kube_namespace, "-f", str(path))
    assert "serverside-applied" in out
    created = json.loads(
        kubectl("get", "sensorpipeline", path.stem, "-n", kube_namespace, "-o", "json")
    )
    assert created["spec"]["gateways"], "the API server kept the spec"


def reconciled(pipeline: dict[str, Any] | None) -> bool:
    """The operator has acted on the pipeline's current spec through to its topics, and
    nothing stalled. Not Ready: that would claim the examples' gateways and consumers run,
    and they name devices and brokers that are not here."""
    if not pipeline or (pipeline.get("status") or {}).get("observedGeneration") != pipeline[
        "metadata"
    ].get("generation"):
        return False
    topics, stalled = condition(pipeline, "TopicsReady"), condition(pipeline, "Stalled")
    return bool(topics and topics["status"] == "True" and (stalled or {}).get("status") != "True")


def awaits_its_controller(child: dict[str, Any]) -> bool:
    """A KafkaTopic or SparkApplication whose status Strimzi or the spark-operator has not
    written yet (patching only those keeps the operator from chasing its own tail)."""
    status = child.get("status") or {}
    if child["kind"] == "KafkaTopic":
        return bool(status.get("observedGeneration") != child["metadata"]["generation"])
    if child["kind"] == "SparkApplication":
        return not status.get("applicationState")
    return False


def test_the_chart_operator_reconciles_every_example(
    stack: dict[str, str], namespaced_release: Release
) -> None:
    """The operator as the chart runs it: its pod on the real node, under the chart's
    ServiceAccount, watching the release's namespace, creates every example's children and
    follows its topics to ready (made so as Strimzi and the spark-operator would) without one
    refusal. The examples' gateways and consumers name devices and brokers that are not here:
    nothing here claims they run."""
    ns = namespaced_release.watched
    for path in EXAMPLES:
        kubectl("apply", "--server-side", "-n", ns, "-f", str(path))
    admin = admin_kube(stack)
    pending = {p.stem for p in EXAMPLES}

    def all_reconciled() -> bool:
        for name in sorted(pending):
            if reconciled(get_pipeline(admin, ns, name)):
                pending.discard(name)
            elif any(awaits_its_controller(obj) for obj in children(admin, ns, name).values()):
                make_ready_as_strimzi_and_spark_operator(admin, ns, name, topics_in_kafka=False)
        return not pending

    def operator_log() -> str:
        deploy = f"deploy/{namespaced_release.fullname}"
        return kubectl("-n", namespaced_release.namespace, "logs", deploy, check=False)

    try:
        wait_until(f"every example reconciled in {ns}", all_reconciled, 150)
    except AssertionError as e:
        raise AssertionError(f"{e}\noperator log:\n{operator_log()[-6000:]}") from None
    # Through the Role's `bind` on the chart's ClusterRole, each driver got its rights there.
    for path in EXAMPLES:
        driver = f"system:serviceaccount:{ns}:{path.stem}-spark"
        binding = children(admin, ns, path.stem)[("RoleBinding", f"{path.stem}-spark")]
        assert binding["roleRef"]["name"] == SPARK_DRIVER_CLUSTER_ROLE
        assert can_i(driver, "create", "pods", ns)
        assert not can_i(driver, "create", "pods", namespaced_release.namespace)
    # The Role is enough: nothing in the watched namespace was refused on the way.
    refused = [
        line
        for line in operator_log().splitlines()
        if "Forbidden" in line and f"/namespaces/{ns}/" in line
    ]
    assert not refused, "\n".join(refused[:5])
