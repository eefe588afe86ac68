"""What the operator's integration tests and benchmark share: an admin API client, a
ServiceAccount bound to exactly charts/sensorpipe/files/operator-rules.yaml with a kubeconfig
for its token, the Spark driver's ClusterRole made of exactly spark-driver-rules.yaml,
pipelines to create (their pods on the real node), Strimzi and the spark-operator played as
they write status, and waiting on conditions with the operator's log tail
(``operator_process`` runs the operator itself).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client, config

from sensorpipe_operator.builders.rolebinding import SPARK_DRIVER_CLUSTER_ROLE
from sensorpipe_operator.kube import KINDS, PIPELINES, Kind, Kube
from tests.conftest import kubectl, wait_until
from tests.node import REAL_NODE_PLACEMENT

from .operator_process import OperatorProcess
from .thirdparty import create_as_topic_operator, kind_of, spark_status, strimzi_topic_status

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "charts" / "sensorpipe" / "files" / "operator-rules.yaml"
DRIVER_RULES = ROOT / "charts" / "sensorpipe" / "files" / "spark-driver-rules.yaml"
T = TypeVar("T")


def admin_kube(stack: dict[str, str]) -> Kube:
    return Kube(config.new_client_from_config(config_file=stack["KUBECONFIG"]))


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [*data["namespaced"], *data["clusterWide"]]


@contextmanager
def spark_driver_cluster_role(kube: Kube) -> Iterator[dict[str, Any]]:
    """The ClusterRole the chart installs for every pipeline's Spark driver, made of exactly
    spark-driver-rules.yaml, for as long as the block runs. One that is already there (a chart
    release on an external cluster) is used and left alone; the one made here is deleted after,
    since a Helm release cannot take over an object of the same name that it did not create."""
    rbac = client.RbacAuthorizationV1Api(kube.api)
    rules = yaml.safe_load(DRIVER_RULES.read_text())["rules"]
    try:
        existing = rbac.read_cluster_role(SPARK_DRIVER_CLUSTER_ROLE)
    except client.exceptions.ApiException as exc:
        if exc.status != 404:
            raise
        existing = None
    if existing is not None:
        yield kube.api.sanitize_for_serialization(existing)
        return
    created = rbac.create_cluster_role(
        {"metadata": {"name": SPARK_DRIVER_CLUSTER_ROLE}, "rules": rules}
    )
    try:
        yield kube.api.sanitize_for_serialization(created)
    finally:
        rbac.delete_cluster_role(SPARK_DRIVER_CLUSTER_ROLE)


def token_kubeconfig(stack: dict[str, str], token: str, user: str, path: Path) -> Path:
    """A kubeconfig for the local API server that authenticates with ``token``."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {
                            "server": stack["KUBE_APISERVER"],
                            "certificate-authority": stack["KUBE_CA_FILE"],
                        },
                    }
                ],
                "users": [{"name": user, "user": {"token": token}}],
                "contexts": [{"name": "op", "context": {"cluster": "local", "user": user}}],
                "current-context": "op",
            }
        )
    )
    return path


def service_account_token(kube: Kube, namespace: str, name: str, seconds: int = 3600) -> str:
    """A TokenRequest token of a ServiceAccount: what a Pod running as it would present."""
    token: str = (
        client.CoreV1Api(kube.api)
        .create_namespaced_service_account_token(
            name, namespace, {"spec": {"expirationSeconds": seconds}}
        )
        .status.token
    )
    return token


def can_i(user: str, verb: str, resource: str, namespace: str, subresource: str = "") -> bool:
    """The API server's own answer for ``user`` (kubectl impersonates it; a ServiceAccount's
    groups come with its name)."""
    args = ["auth", "can-i", verb, resource, f"--as={user}", "-n", namespace]
    if subresource:
        args.append(f"--subresource={subresource}")
    return kubectl(*args, check=False).strip() == "yes"


def service_account_kubeconfig(
    stack: dict[str, str], kube: Kube, workdir: Path
) -> tuple[Path, str]:
    """A ServiceAccount with a ClusterRole made of exactly the chart's rules, and a kubeconfig
    holding a token of it; returns (kubeconfig path, the account's user name)."""
    suffix = secrets.token_hex(3)
    ns, name = f"sensorpipe-op-{suffix}", "sensorpipe-operator"
    core, rbac = client.CoreV1Api(kube.api), client.RbacAuthorizationV1Api(kube.api)
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": name}})
    role = f"sensorpipe-operator-{suffix}"
    rbac.create_cluster_role({"metadata": {"name": role}, "rules": rules()})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": role},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": ns}],
        }
    )
    token = service_account_token(kube, ns, name, 4 * 3600)
    path = token_kubeconfig(stack, token, name, workdir / f"operator-{suffix}.kubeconfig")
    return path, f"system:serviceaccount:{ns}:{name}"


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    operator: OperatorProcess | None = None,
) -> T:
    """The suites' one wait (tests/conftest.py), failing with the operator's log tail."""
    tail = (lambda: f"operator log:\n{operator.tail()}") if operator else None
    found: T = wait_until(what, probe, timeout, interval=0.2, tail=tail)
    return found


def pipeline(
    name: str,
    namespace: str,
    bootstrap: str,
    placement: dict[str, Any] = REAL_NODE_PLACEMENT,
    **spec: Any,
) -> dict[str, Any]:
    """A small but complete pipeline: two streams, a simulated gateway and one consumer, both
    running as pods where ``placement`` says (the real node unless a benchmark wants kwok's
    fake one); ``spec`` replaces top-level sections."""
    body: dict[str, Any] = {
        "kafka": {
            "clusterRef": "local",
            "bootstrapServers": bootstrap,
            "topicDefaults": {"partitions": 2, "replicas": 1, "retention": "1d"},
        },
        "streams": [
            {
                "name": "climate",
                "fields": [
                    {"name": "temperature", "unit": "Cel", "min": -40, "max": 80},
                    {"name": "humidity", "unit": "%", "min": 0, "max": 100},
                ],
            },
            {"name": "motion", "fields": [{"name": "motion", "type": "boolean"}]},
        ],
        "gateways": [
            {
                "name": "sim",
                "source": {"type": "simulated", "simulated": {"devices": 3}},
                **placement,
            }
        ],
        "consumers": [{"name": "notifier", **placement}],
    }
    body.update(spec)
    return resource(PIPELINES, name, namespace, body)


def resource(ref: Kind, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A namespaced custom object of ``ref``'s kind, as a manifest to create or apply."""
    return {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def create_pipeline(kube: Kube, manifest: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    """Create the pipeline; with ``dry_run``, have the server check it as ``kubectl apply``
    does (undeclared fields refused) and answer what it would store, defaults applied."""
    api = client.CustomObjectsApi(kube.api)
    result: dict[str, Any] = api.create_namespaced_custom_object(
        PIPELINES.group,
        PIPELINES.version,
        manifest["metadata"]["namespace"],
        PIPELINES.plural,
        manifest,
        **({"dry_run": "All", "field_validation": "Strict"} if dry_run else {}),
    )
    return result


def kubectl_apply(manifest: dict[str, Any], manager: str) -> subprocess.CompletedProcess[str]:
    """``kubectl apply --server-side`` of one manifest, as a user runs it."""
    return subprocess.run(
        ["kubectl", "apply", "--server-side", "--field-manager", manager, "-f", "-"],
        input=yaml.safe_dump(manifest),
        capture_output=True,
        text=True,
        check=False,
    )


def get_pipeline(kube: Kube, namespace: str, name: str) -> dict[str, Any] | None:
    return kube.get(PIPELINES, namespace, name)


def children(
    kube: Kube, namespace: str, pipeline_name: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every object labelled as a child of the pipeline, by (kind, name)."""
    out = {}
    for name in KINDS:
        kind = kind_of(kube, name)
        if kind is None:
            continue
        for obj in kube.list(kind, namespace, f"iot.sensorpipe.dev/pipeline={pipeline_name}"):
            out[(kind.kind, obj["metadata"]["name"])] = {**obj, "kind": kind.kind}
    return out


def condition(body: dict[str, Any] | None, ctype: str) -> dict[str, Any] | None:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def wait_condition(
    kube: Kube, namespace: str, name: str, ctype: str, reason: str, operator: OperatorProcess
) -> dict[str, Any]:
    """The pipeline's ``ctype`` condition once it has ``reason``."""

    def probe() -> dict[str, Any] | None:
        cond = condition(get_pipeline(kube, namespace, name), ctype)
        return cond if cond and cond.get("reason") == reason else None

    return wait_for(probe, 60, f"{ctype} with reason {reason}", operator)


def child_field(
    kube: Kube, namespace: str, pipeline_name: str, key: tuple[str, str], *path: str
) -> Any:
    """One field of one child, None while the child or the field is missing."""
    node: Any = children(kube, namespace, pipeline_name).get(key)
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def make_ready_as_strimzi_and_spark_operator(
    kube: Kube, namespace: str, pipeline_name: str, topics_in_kafka: bool = True
) -> None:
    """Play Strimzi's topic operator and the spark-operator: create the topics in the Kafka
    cluster the pipeline names (unless ``topics_in_kafka`` is off, for pipelines whose pods are
    kwok's and whose brokers are not here), mark them Ready and the application RUNNING through
    their status subresources, as they write them. Deployments become available for real,
    through the controller-manager and the node their pods run on."""
    found = children(kube, namespace, pipeline_name)
    topics = [obj for (kind, _), obj in found.items() if kind == "KafkaTopic"]
    body = get_pipeline(kube, namespace, pipeline_name) or {}
    if topics and topics_in_kafka:
        create_as_topic_operator(body["spec"]["kafka"]["bootstrapServers"], topics)
    for (kind, name), obj in found.items():
        api = kind_of(kube, kind)
        if kind == "KafkaTopic" and api is not None:
            kube.merge_patch(api, namespace, name, strimzi_topic_status(obj), "status")
        elif kind == "SparkApplication" and api is not None:
            kube.merge_patch(api, namespace, name, spark_status("RUNNING"), "status")


def pods_on_the_real_node(kube: Kube, namespace: str, pipeline_name: str, node: str) -> list[str]:
    """The pipeline's pods (gateways, consumers) that run on the real node ``node`` and are
    Ready; what GatewaysReady and ProcessingReady rest on once no kwok pod is involved."""
    pods = client.CoreV1Api(kube.api).list_namespaced_pod(
        namespace, label_selector=f"iot.sensorpipe.dev/pipeline={pipeline_name}"
    )
    return sorted(
        p.metadata.name
        for p in pods.items
        if p.spec.node_name == node
        and p.status.phase == "Running"
        and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
    )


def delete_pipeline(kube: Kube, namespace: str, name: str) -> None:
    try:
        client.CustomObjectsApi(kube.api).delete_namespaced_custom_object(
            PIPELINES.group, PIPELINES.version, namespace, PIPELINES.plural, name
        )
    except client.exceptions.ApiException as exc:
        if exc.status != 404:
            raise
