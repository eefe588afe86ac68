"""The tests' copies of the third-party CRDs refuse and prune what upstream's do: a
SparkApplication status without ``driverInfo``, a spec without its required fields, unknown
fields outside ``driver.template``/``executor.template``; a KafkaTopic with zero partitions,
and on Strimzi 1.x one without a spec."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from sensorpipe_operator.kube import KINDS, Kube, KubeError

from .harness import resource
from .thirdparty import kafkatopic_crd, replace_crd, spark_status, strimzi_release

pytestmark = pytest.mark.integration
SPARK = KINDS["SparkApplication"]


def _create(kube: Kube, obj: dict[str, Any]) -> dict[str, Any]:
    """A create (POST), which prunes unknown fields as the schema says (server-side apply
    refuses them outright, which says nothing about pruning)."""
    group, version = obj["apiVersion"].split("/")
    plural = {"SparkApplication": "sparkapplications", "KafkaTopic": "kafkatopics"}[obj["kind"]]
    try:
        created: dict[str, Any] = client.CustomObjectsApi(kube.api).create_namespaced_custom_object(
            group, version, obj["metadata"]["namespace"], plural, obj
        )
    except client.exceptions.ApiException as exc:
        raise KubeError(int(exc.status or 0), str(exc.body)) from None
    return created


def _app(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    body = {
        "type": "Python",
        "mode": "cluster",
        "sparkVersion": "4.0.0",
        "mainApplicationFile": "local:///opt/app/main.py",
        "driver": {"cores": 1, "memory": "1g", "template": {"spec": {"extra": "kept"}}},
        "executor": {"cores": 1, "instances": 1, "memory": "1g", "unknownField": "pruned"},
        "madeUp": "pruned",
    }
    body.update(spec)
    return resource(SPARK, name, ns, body)


def test_sparkapplication_crd_prunes_and_refuses_as_upstream(admin: Kube, kube_namespace: str):
    app = _app("strict", kube_namespace)
    created = _create(admin, app)
    assert "madeUp" not in created["spec"]
    assert "unknownField" not in created["spec"]["executor"]
    assert created["spec"]["driver"]["template"] == {"spec": {"extra": "kept"}}

    with pytest.raises(KubeError) as missing:
        admin.merge_patch(
            SPARK,
            kube_namespace,
            "strict",
            {"status": {"applicationState": {"state": "RUNNING"}}},
            "status",
        )
    assert missing.value.status == 422
    assert "driverInfo" in missing.value.message
    admin.merge_patch(SPARK, kube_namespace, "strict", spark_status("RUNNING"), "status")

    bad = _app("incomplete", kube_namespace)
    del bad["spec"]["mainApplicationFile"]
    with pytest.raises(KubeError) as required:
        _create(admin, bad)
    assert required.value.status == 422
    assert "mainApplicationFile" in required.value.message

    wrong = _app("wrong", kube_namespace, restartPolicy={"type": "Sometimes"})
    with pytest.raises(KubeError) as enum:
        _create(admin, wrong)
    assert "restartPolicy.type" in enum.value.message


def _topic(ns: str, version: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": f"kafka.strimzi.io/{version}",
        "kind": "KafkaTopic",
        "metadata": {"name": "t", "namespace": ns, "labels": {"strimzi.io/cluster": "c"}},
    }
    if spec:
        body["spec"] = spec
    return body


def test_kafkatopic_crd_refuses_as_upstream(admin: Kube, kube_namespace: str):
    with pytest.raises(KubeError) as zero:
        _create(admin, _topic(kube_namespace, "v1", partitions=0, replicas=1))
    assert zero.value.status == 422
    created = _create(admin, _topic(kube_namespace, "v1", partitions=1, replicas=1, extra="x"))
    assert "extra" not in created["spec"]
    with strimzi_release(admin, "1"):
        with pytest.raises(KubeError) as no_spec:
            _create(admin, _topic(kube_namespace, "v1"))
        assert no_spec.value.status == 422
        with pytest.raises(KubeError) as gone:
            _create(admin, _topic(kube_namespace, "v1beta2", partitions=1))
        assert gone.value.status == 404


def test_the_three_strimzi_shapes_serve_what_their_releases_serve(admin: Kube):
    try:
        for release, served in (("0.48", ["v1beta2", "v1beta1", "v1alpha1"]), ("1", ["v1"])):
            replace_crd(admin, kafkatopic_crd(release))
            assert sorted(admin.served_versions("kafka.strimzi.io")) == sorted(served)
    finally:
        replace_crd(admin, kafkatopic_crd("0.51"))
    assert set(admin.served_versions("kafka.strimzi.io")) == {
        "v1",
        "v1beta2",
        "v1beta1",
        "v1alpha1",
    }
