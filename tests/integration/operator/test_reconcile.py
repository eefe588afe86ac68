"""The operator against the real API server (and, for the admin backend, the real broker),
running under exactly the chart's RBAC rules."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from sensorpipe_contract.identity import AUTOSCALER_MANAGER
from sensorpipe_operator import ownership, plan
from sensorpipe_operator.builders import autoscaled_fields, desired_children
from sensorpipe_operator.builders.rolebinding import SPARK_DRIVER_CLUSTER_ROLE
from sensorpipe_operator.kube import KINDS, PIPELINES, Kube, KubeError
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.actuate import Actuator
from sensorpipe_operator.scaling.targets import targets
from sensorpipe_operator.settings import Images

from .harness import (
    can_i,
    child_field,
    children,
    condition,
    create_pipeline,
    delete_pipeline,
    get_pipeline,
    make_ready_as_strimzi_and_spark_operator,
    pipeline,
    pods_on_the_real_node,
    service_account_token,
    token_kubeconfig,
    wait_condition,
    wait_for,
)
from .operator_process import OperatorProcess

pytestmark = pytest.mark.integration
TIMEOUT = 60
Children = dict[tuple[str, str], dict[str, Any]]


def _expected_keys(manifest: dict[str, Any]) -> set[tuple[str, str]]:
    meta = manifest["metadata"]
    model = parse(manifest["spec"], meta["name"], meta["namespace"])
    return {(c["kind"], c["metadata"]["name"]) for c in desired_children(model, Images())}


def _all_children(
    admin: Kube, ns: str, name: str, want: set[tuple[str, str]], operator: OperatorProcess
) -> Children:
    def probe() -> Children | None:
        found = children(admin, ns, name)
        return found if want <= set(found) else None

    return wait_for(probe, TIMEOUT, f"children {sorted(want)}", operator)


def _ready(admin: Kube, ns: str, name: str, operator: OperatorProcess) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = get_pipeline(admin, ns, name)
        ready = condition(body, "Ready")
        if (
            body
            and ready
            and ready["status"] == "True"
            and body["status"]["observedGeneration"] == body["metadata"]["generation"]
        ):
            return body
        return None

    return wait_for(probe, TIMEOUT, f"pipeline {name} Ready", operator)


def _converged(
    admin: Kube, ns: str, name: str, generation: int, operator: OperatorProcess
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = get_pipeline(admin, ns, name)
        return (
            body
            if body and (body.get("status") or {}).get("observedGeneration") == generation
            else None
        )

    return wait_for(probe, TIMEOUT, f"status of generation {generation}", operator)


def test_create_makes_owned_children_and_becomes_ready(
    admin, stack, shared_namespace, kafka_bootstrap, shared_operator, unique_name
):
    name = "farm"
    manifest = pipeline(name, shared_namespace, kafka_bootstrap)
    created = create_pipeline(admin, manifest)
    want = _expected_keys(manifest)
    found = _all_children(admin, shared_namespace, name, want, shared_operator)
    assert set(found) == want
    for (kind, _), obj in found.items():
        refs = obj["metadata"].get("ownerReferences")
        if kind == "KafkaTopic":
            # Kept with their data when the pipeline goes (deleteTopicsWithPipeline is false).
            assert refs is None
            continue
        assert refs == [
            {
                "apiVersion": "iot.sensorpipe.dev/v1alpha1",
                "kind": "SensorPipeline",
                "name": name,
                "uid": created["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "sensorpipe"
        assert obj["metadata"]["labels"]["iot.sensorpipe.dev/pipeline"] == name
    topic = found[("KafkaTopic", "farm-stream-climate")]
    assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "local"
    assert topic["spec"] == {
        **topic["spec"],
        "topicName": "farm.climate",
        "partitions": 2,
        "replicas": 1,
    }
    spark = found[("SparkApplication", "farm-processing")]["spec"]
    assert spark["type"] == "Python"
    assert spark["restartPolicy"]["type"] == "Always"
    not_yet = condition(get_pipeline(admin, shared_namespace, name), "TopicsReady")
    assert not_yet is None or not_yet["status"] == "False"

    make_ready_as_strimzi_and_spark_operator(admin, shared_namespace, name)
    body = _ready(admin, shared_namespace, name, shared_operator)
    assert body["status"]["phase"] == "Ready"
    # No finalizer: a pipeline stays deletable (and its namespace too) when no operator runs.
    assert not body["metadata"].get("finalizers")
    conds = {c["type"]: c for c in body["status"]["conditions"]}
    assert {t: c["status"] for t, c in conds.items()} == {
        "TopicsReady": "True",
        "ProcessingReady": "True",
        "GatewaysReady": "True",
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert all(c["lastTransitionTime"] and c["reason"] and c["message"] for c in conds.values())
    # Ready rests on pods that run: the gateway's and the consumer's, on the real node.
    running = pods_on_the_real_node(admin, shared_namespace, name, stack["NODE_NAME"])
    assert [p.rsplit("-", 2)[0] for p in running] == ["farm-consumer-notifier", "farm-gw-sim"]
    assert {t["name"] for t in body["status"]["topics"]} >= {
        "farm.climate",
        "farm.motion",
        "farm.alerts",
    }
    events = client.CoreV1Api(admin.api).list_namespaced_event(shared_namespace).items
    reasons = {e.reason for e in events if e.involved_object.name == name}
    assert {"Created", "PhaseReady"} <= reasons
    with urllib.request.urlopen(shared_operator.metrics_url, timeout=5) as resp:
        scraped = resp.read().decode()
    assert 'sensorpipe_children{kind="KafkaTopic"} 5.0' in scraped
    assert 'sensorpipe_pipelines{phase="Ready"} 1.0' in scraped
    assert 'sensorpipe_child_writes_total{kind="Deployment",verb="apply"}' in scraped
    assert "sensorpipe_reconcile_duration_seconds_count" in scraped
    # per pipeline, what the chart's SensorPipelineNotReady alert watches, and the build
    ready = f'sensorpipe_pipeline_ready{{namespace="{shared_namespace}",pipeline="{name}"}} 1.0'
    assert ready in scraped
    assert 'sensorpipe_build_info{component="operator"' in scraped


def _versions(found: Children) -> dict[tuple[str, str], Any]:
    """What changes when someone writes an object's spec: generation where the kind has one
    (status updates do not count), resourceVersion otherwise."""
    return {
        k: obj["metadata"].get("generation") or obj["metadata"]["resourceVersion"]
        for k, obj in found.items()
    }


def test_spec_update_changes_exactly_the_affected_children(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    name = "upd"
    manifest = pipeline(name, shared_namespace, kafka_bootstrap)
    create_pipeline(admin, manifest)
    want = _expected_keys(manifest)
    _all_children(admin, shared_namespace, name, want, shared_operator)
    make_ready_as_strimzi_and_spark_operator(admin, shared_namespace, name)
    body = _ready(admin, shared_namespace, name, shared_operator)
    before = _versions(children(admin, shared_namespace, name))

    gateways = body["spec"]["gateways"]
    gateways[0]["replicas"] = 2
    admin.merge_patch(PIPELINES, shared_namespace, name, {"spec": {"gateways": gateways}})
    _converged(admin, shared_namespace, name, body["metadata"]["generation"] + 1, shared_operator)
    gateway = ("Deployment", f"{name}-gw-sim")
    wait_for(
        lambda: child_field(admin, shared_namespace, name, gateway, "spec", "replicas") == 2,
        TIMEOUT,
        "gateway scaled to 2",
        shared_operator,
    )
    after = _versions(children(admin, shared_namespace, name))
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {("Deployment", f"{name}-gw-sim")}

    fresh = get_pipeline(admin, shared_namespace, name)
    assert fresh is not None
    body = fresh
    admin.merge_patch(
        PIPELINES,
        shared_namespace,
        name,
        {
            "spec": {
                "kafka": {
                    **body["spec"]["kafka"],
                    "topicDefaults": {**body["spec"]["kafka"]["topicDefaults"], "retention": "2d"},
                }
            }
        },
    )
    _converged(admin, shared_namespace, name, body["metadata"]["generation"] + 1, shared_operator)
    alerts = ("KafkaTopic", f"{name}-alerts")
    wait_for(
        lambda: child_field(admin, shared_namespace, name, alerts, "spec", "config", "retention.ms")
        == 172800000,
        TIMEOUT,
        "topics with the new retention",
        shared_operator,
    )
    final = _versions(children(admin, shared_namespace, name))
    changed = {k for k in after if after[k] != final.get(k)}
    assert changed == {k for k in want if k[0] == "KafkaTopic"}


def test_hand_edits_and_deletes_are_restored(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    name = "drift"
    manifest = pipeline(name, shared_namespace, kafka_bootstrap)
    create_pipeline(admin, manifest)
    found = _all_children(admin, shared_namespace, name, _expected_keys(manifest), shared_operator)
    original = found[("ConfigMap", f"{name}-config")]["data"]["pipeline.json"]

    admin.merge_patch(
        KINDS["ConfigMap"], shared_namespace, f"{name}-config", {"data": {"pipeline.json": "{}"}}
    )
    admin.merge_patch(
        KINDS["Deployment"], shared_namespace, f"{name}-gw-sim", {"spec": {"replicas": 5}}
    )
    admin.merge_patch(
        KINDS["KafkaTopic"], shared_namespace, f"{name}-alerts", {"spec": {"partitions": 9}}
    )
    spark_uid = found[("SparkApplication", f"{name}-processing")]["metadata"]["uid"]
    client.CustomObjectsApi(admin.api).delete_namespaced_custom_object(
        "sparkoperator.k8s.io",
        "v1beta2",
        shared_namespace,
        "sparkapplications",
        f"{name}-processing",
    )
    sa_uid = found[("ServiceAccount", f"{name}-gateway")]["metadata"]["uid"]
    client.CoreV1Api(admin.api).delete_namespaced_service_account(
        f"{name}-gateway", shared_namespace
    )
    # Someone hands the driver's rights to another account too: the binding is put back as built.
    binding = found[("RoleBinding", f"{name}-spark")]
    intruder = {"kind": "ServiceAccount", "name": "default", "namespace": shared_namespace}
    admin.merge_patch(
        KINDS["RoleBinding"],
        shared_namespace,
        f"{name}-spark",
        {"subjects": [*binding["subjects"], intruder]},
    )

    def restored() -> bool:
        now = children(admin, shared_namespace, name)
        spark = now.get(("SparkApplication", f"{name}-processing"))
        account = now.get(("ServiceAccount", f"{name}-gateway"))
        subjects = now.get(("RoleBinding", f"{name}-spark"), {}).get("subjects")
        return (
            now[("ConfigMap", f"{name}-config")]["data"]["pipeline.json"] == original
            and subjects == binding["subjects"]
            and now[("Deployment", f"{name}-gw-sim")]["spec"]["replicas"] == 1
            and spark is not None
            and spark["metadata"]["uid"] != spark_uid
            and account is not None
            and account["metadata"]["uid"] != sa_uid
        )

    wait_for(restored, 20, "hand edits and deletions undone", shared_operator)
    # A partition count raised by hand cannot be undone in Kafka: the operator keeps it and says so.
    topic = children(admin, shared_namespace, name)[("KafkaTopic", f"{name}-alerts")]
    assert topic["spec"]["partitions"] == 9
    cond = wait_condition(
        admin, shared_namespace, name, "TopicsReady", "PartitionDecreaseRefused", shared_operator
    )
    assert f"{name}.alerts has 9 partitions; decreasing to 2 is not possible" in cond["message"]


def test_the_autoscalers_spark_floor_survives_every_reconcile(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    """The operator creates the SparkApplication at the spec's minimum, then never reverts
    the floor, neither before the autoscaler has moved it nor after, while its drift repair
    and spec changes still put back and update every field it declares."""
    name = "floor"
    scaling = {
        "enabled": True,
        "target": "spark",
        "minReplicas": 2,
        "maxReplicas": 6,
        # The operator's own autoscaler polls this pipeline too; with no topics in Kafka it
        # would recommend less, which it may only do after this window: it holds here.
        "scaleDownStabilization": "1h",
    }
    manifest = pipeline(name, shared_namespace, kafka_bootstrap, scaling=scaling)
    create_pipeline(admin, manifest)
    key = ("SparkApplication", f"{name}-processing")
    _all_children(admin, shared_namespace, name, {key}, shared_operator)

    def app() -> dict[str, Any]:
        return children(admin, shared_namespace, name)[key]

    def dyn() -> dict[str, Any]:
        return dict(app()["spec"]["dynamicAllocation"])

    assert dyn() == {"enabled": True, "minExecutors": 2, "initialExecutors": 2, "maxExecutors": 6}
    memory = app()["spec"]["driver"]["memory"]

    def hand_edit_restored() -> None:
        admin.merge_patch(
            KINDS["SparkApplication"],
            shared_namespace,
            key[1],
            {"spec": {"driver": {"memory": "7g"}, "mode": "client"}},
        )
        wait_for(
            lambda: app()["spec"]["driver"]["memory"] == memory
            and app()["spec"]["mode"] == "cluster",
            TIMEOUT,
            "hand edits of the SparkApplication undone",
            shared_operator,
        )

    # 1. Before the autoscaler ever moved it, the floor is the operator's (it wrote it at
    # creation); a drift repair then applies without it, which must not delete it.
    hand_edit_restored()
    assert dyn() == {"enabled": True, "minExecutors": 2, "initialExecutors": 2, "maxExecutors": 6}
    floor = ("spec", "dynamicAllocation", "minExecutors")
    assert ownership.owners(app(), floor) == {AUTOSCALER_MANAGER}

    # 2. The autoscaler raises the floor (its own actuation code, its own field manager).
    target = targets(parse(manifest["spec"], name, shared_namespace))[0]
    Actuator(admin).set(shared_namespace, target, 4)
    assert dyn()["minExecutors"] == 4
    hand_edit_restored()
    assert dyn() == {"enabled": True, "minExecutors": 4, "initialExecutors": 4, "maxExecutors": 6}

    # 3. A spec change rewrites what the operator declares and leaves the floor alone.
    scaling["maxReplicas"] = 8
    admin.merge_patch(PIPELINES, shared_namespace, name, {"spec": {"scaling": scaling}})
    wait_for(lambda: dyn()["maxExecutors"] == 8, TIMEOUT, "maxExecutors 8 applied", shared_operator)
    assert dyn() == {"enabled": True, "minExecutors": 4, "initialExecutors": 4, "maxExecutors": 8}


def test_a_handover_computed_from_a_stale_view_is_refused(admin, kube_namespace, kafka_bootstrap):
    """The handover carries the resourceVersion it was computed from: when the autoscaler
    has moved the floor since, the API server refuses it instead of writing the old floor
    back (the reconciler then plans the child again from the newer object)."""
    scaling = {"enabled": True, "target": "spark", "minReplicas": 2}
    manifest = pipeline("stale", kube_namespace, kafka_bootstrap, scaling=scaling)
    model = parse(manifest["spec"], "stale", kube_namespace)
    key = ("SparkApplication", "stale-processing")
    first = plan.make(desired_children(model, Images()), {}, "", True, autoscaled_fields(model))
    created = admin.apply(next(m for m in first.apply if plan.key_of(m) == key))
    handover = ownership.handover(created, autoscaled_fields(model)[key], created)
    assert handover is not None  # the operator alone owns the floor it created the app with

    Actuator(admin).set(kube_namespace, targets(model)[0], 5)
    with pytest.raises(KubeError) as refused:
        admin.apply(handover, AUTOSCALER_MANAGER, False)
    assert refused.value.status == 409
    spark = admin.get(KINDS["SparkApplication"], kube_namespace, key[1])
    assert spark is not None
    assert spark["spec"]["dynamicAllocation"]["minExecutors"] == 5


def test_delete_removes_children_but_keeps_topics(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    keep = pipeline("keep", shared_namespace, kafka_bootstrap)
    drop = pipeline("drop", shared_namespace, kafka_bootstrap)
    drop["spec"]["kafka"]["deleteTopicsWithPipeline"] = True
    for manifest in (keep, drop):
        create_pipeline(admin, manifest)
    for manifest in (keep, drop):
        _all_children(
            admin,
            shared_namespace,
            manifest["metadata"]["name"],
            _expected_keys(manifest),
            shared_operator,
        )
    for manifest in (keep, drop):
        delete_pipeline(admin, shared_namespace, manifest["metadata"]["name"])
    for name in ("keep", "drop"):
        wait_for(
            lambda n=name: get_pipeline(admin, shared_namespace, n) is None,  # type: ignore[misc]
            TIMEOUT,
            f"{name} deleted",
            shared_operator,
        )

    def gone(name: str, kinds: set[str]) -> bool:
        return not [k for k in children(admin, shared_namespace, name) if k[0] in kinds]

    workloads = {"Deployment", "ConfigMap", "ServiceAccount", "RoleBinding", "SparkApplication"}
    wait_for(
        lambda: gone("drop", workloads | {"KafkaTopic"}),
        TIMEOUT,
        "all children of drop collected",
        shared_operator,
    )
    wait_for(
        lambda: gone("keep", workloads), TIMEOUT, "workloads of keep collected", shared_operator
    )
    expected = sorted(k[1] for k in _expected_keys(keep) if k[0] == "KafkaTopic")

    def topics_left() -> list[dict[str, Any]] | None:
        items = client.CustomObjectsApi(admin.api).list_namespaced_custom_object(
            "kafka.strimzi.io", "v1", shared_namespace, "kafkatopics"
        )["items"]
        left = [t for t in items if t["metadata"]["name"].startswith(("keep-", "drop-"))]
        return left if sorted(t["metadata"]["name"] for t in left) == expected else None

    kept = wait_for(topics_left, TIMEOUT, f"exactly the kept topics {expected}", shared_operator)
    assert all(not t["metadata"].get("ownerReferences") for t in kept)


def test_operator_runs_under_the_chart_rules_only(admin, operator_identity):
    review = client.AuthorizationV1Api(admin.api).create_subject_access_review(
        {
            "spec": {
                "user": operator_identity[1],
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "resourceAttributes": {
                    "verb": "list",
                    "resource": "secrets",
                    "namespace": "default",
                },
            }
        }
    )
    assert review.status.allowed is False


def _as_token(stack: dict[str, str], token: str, path: Path) -> client.CoreV1Api:
    """The core API as the holder of ``token`` sees it."""
    token_kubeconfig(stack, token, "token-holder", path)
    return client.CoreV1Api(config.new_client_from_config(config_file=str(path)))


def _executor_pod(name: str, account: str) -> dict[str, Any]:
    """A pod as Spark's driver asks for an executor, running as the executors' account."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"spark-role": "executor"}},
        "spec": {
            "serviceAccountName": account,
            "containers": [{"name": "executor", "image": "sensorpipe-spark:test"}],
        },
    }


@pytest.mark.usefixtures("spark_driver_role")
def test_spark_driver_may_run_executors_in_its_own_namespace_only(
    admin, stack, shared_namespace, kafka_bootstrap, shared_operator, kube_namespace, tmp_path
):
    """The operator binds the chart's ClusterRole to the driver's account in the pipeline's
    namespace: a real request with that account's token creates a pod there and nowhere else,
    and the binding goes with the pipeline."""
    name, ns, other = "driver", shared_namespace, kube_namespace
    account, executors = f"{name}-spark", f"{name}-spark-executor"
    user = f"system:serviceaccount:{ns}:{account}"
    created = create_pipeline(admin, pipeline(name, ns, kafka_bootstrap))
    wanted = {("ServiceAccount", account), ("ServiceAccount", executors), ("RoleBinding", account)}
    found = _all_children(admin, ns, name, wanted, shared_operator)
    binding = found[("RoleBinding", account)]
    assert binding["roleRef"]["name"] == SPARK_DRIVER_CLUSTER_ROLE
    assert binding["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    wait_for(lambda: can_i(user, "create", "pods", ns), TIMEOUT, "the binding in effect")

    assert can_i(user, "watch", "pods", ns)
    assert can_i(user, "deletecollection", "configmaps", ns)
    assert not can_i(user, "create", "pods", other)
    assert not can_i(user, "get", "secrets", ns)
    assert not can_i(user, "create", "pods", ns, subresource="exec")
    assert not can_i(user, "delete", "services", ns)

    driver = _as_token(stack, service_account_token(admin, ns, account), tmp_path / "driver")
    pod = driver.create_namespaced_pod(ns, _executor_pod("driver-exec-1", executors))
    assert pod.spec.service_account_name == executors
    driver.delete_namespaced_pod("driver-exec-1", ns)
    with pytest.raises(client.exceptions.ApiException) as refused:
        driver.create_namespaced_pod(other, _executor_pod("driver-exec-1", executors))
    assert refused.value.status == 403

    delete_pipeline(admin, ns, name)
    wait_for(
        lambda: ("RoleBinding", account) not in children(admin, ns, name),
        TIMEOUT,
        "the garbage collector removing the binding",
        shared_operator,
    )
    assert not can_i(user, "create", "pods", ns)


def test_operator_can_bind_the_driver_role_but_no_other(operator_identity, shared_namespace):
    """`bind` on one ClusterRole by name: the operator cannot hand out any other role, nor
    write a role of its own with more rights, even in a namespace it manages."""
    rbac = client.RbacAuthorizationV1Api(config.new_client_from_config(str(operator_identity[0])))

    def binding(name: str, role: str) -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "default", "namespace": shared_namespace}
            ],
        }

    for role in ("cluster-admin", "edit"):
        with pytest.raises(client.exceptions.ApiException) as refused:
            rbac.create_namespaced_role_binding(shared_namespace, binding(f"try-{role}", role))
        assert refused.value.status == 403
        assert "attempting to grant RBAC permissions not currently held" in refused.value.body
    with pytest.raises(client.exceptions.ApiException) as refused:
        rbac.create_namespaced_role(
            shared_namespace,
            {
                "metadata": {"name": "try-role"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
            },
        )
    assert refused.value.status == 403
    allowed = rbac.create_namespaced_role_binding(
        shared_namespace, binding("try-driver", SPARK_DRIVER_CLUSTER_ROLE)
    )
    rbac.delete_namespaced_role_binding(allowed.metadata.name, shared_namespace)


def test_spec_the_api_server_lets_through_but_the_model_refuses_fails_visibly(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    """A zero duration passes the CRD's pattern; the model's stricter check says why."""
    manifest = pipeline("invalid", shared_namespace, kafka_bootstrap)
    manifest["spec"]["processing"] = {"alerts": {"stuck": {"after": "0s"}}}
    create_pipeline(admin, manifest)
    cond = wait_condition(
        admin, shared_namespace, "invalid", "Ready", "InvalidSpec", shared_operator
    )
    assert cond["status"] == "False"
    assert cond["message"].startswith("spec.processing.alerts.stuck.after: must be above zero")
    body = get_pipeline(admin, shared_namespace, "invalid")
    assert body is not None
    assert body["status"]["phase"] == "Failed"
    assert children(admin, shared_namespace, "invalid") == {}


def test_a_device_the_cluster_admin_did_not_allow_is_refused_before_any_child(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    """/dev/ttyS1 passes the CRD's serial-device pattern, but the operator runs with the
    default allow-list (USB and ACM adapters): the pipeline fails naming the field, and no
    Deployment mounts the device."""
    serial = {"type": "serial", "serial": {"device": "/dev/ttyS1"}}
    gateways = [{"name": "uart", "source": serial}]
    create_pipeline(admin, pipeline("uart", shared_namespace, kafka_bootstrap, gateways=gateways))
    cond = wait_condition(admin, shared_namespace, "uart", "Ready", "InvalidSpec", shared_operator)
    assert cond["message"].startswith(
        "spec.gateways[0].source.serial.device: /dev/ttyS1 is not among the devices"
    )
    assert children(admin, shared_namespace, "uart") == {}


def test_a_child_the_api_server_refuses_is_reported_once(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    manifest = pipeline("refused", shared_namespace, kafka_bootstrap)
    manifest["spec"]["gateways"][0]["resources"] = {"requests": {"cpu": "lots"}}
    create_pipeline(admin, manifest)
    cond = wait_condition(
        admin, shared_namespace, "refused", "GatewaysReady", "ApplyFailed", shared_operator
    )
    assert cond["message"].startswith("Deployment refused-gw-sim: ")
    assert "quantities must match" in cond["message"]

    def warnings() -> list[Any]:
        events = client.CoreV1Api(admin.api).list_namespaced_event(shared_namespace).items
        return [
            e for e in events if e.involved_object.name == "refused" and e.reason == "ApplyFailed"
        ]

    first = wait_for(warnings, 30, "an ApplyFailed event", shared_operator)
    # Several resync ticks later the same failure has not been announced again.
    resyncs = _resync_count(shared_operator) + 3
    wait_for(
        lambda: _resync_count(shared_operator) >= resyncs, 30, "three more resyncs", shared_operator
    )
    assert len(warnings()) == len(first) == 1


def _resync_count(operator: OperatorProcess) -> float:
    with urllib.request.urlopen(operator.metrics_url, timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith('sensorpipe_reconciles_total{result="ok",trigger="timer"}'):
                return float(line.split()[-1])
    return 0.0
