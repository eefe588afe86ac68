"""The third-party CRDs of crds/third-party/ and the status their controllers write.

Strimzi's KafkaTopic CRD exists in three shapes across the supported releases: v1beta2 only
(0.48), v1 beside v1beta2 (0.49 to 0.51, the file in crds/third-party/), v1 only (1.x). The
variants are derived from the one file so that a test can install the release it needs, and
put the file's shape back after. Statuses are written through the status subresource exactly
as the real controllers write them (Strimzi's BatchingTopicController, the spark-operator's
SparkApplication controller).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from kubernetes import client

from sensorpipe_contract.identity import TIME_FORMAT
from sensorpipe_operator import strimzi
from sensorpipe_operator.kube import KAFKA_TOPICS, KINDS, Kind, Kube

ROOT = Path(__file__).resolve().parents[3]
THIRD_PARTY = ROOT / "crds" / "third-party"
KAFKATOPIC_CRD = THIRD_PARTY / "kafkatopics.kafka.strimzi.io.yaml"
SPARKAPP_CRD = THIRD_PARTY / "sparkapplications.sparkoperator.k8s.io.yaml"


def kafkatopic_crd(release: str) -> dict[str, Any]:
    """The KafkaTopic CRD as Strimzi ``release`` ("0.48", "0.51" or "1") installs it."""
    crd: dict[str, Any] = yaml.safe_load(KAFKATOPIC_CRD.read_text())
    versions = crd["spec"]["versions"]
    if release == "0.48":
        versions = [copy.deepcopy(v) for v in versions if v["name"] != "v1"]
        for v in versions:
            v.pop("deprecated", None)
            v.pop("deprecationWarning", None)
    elif release == "1":
        versions = [copy.deepcopy(v) for v in versions if v["name"] == "v1"]
        versions[0]["storage"] = True
        versions[0]["schema"]["openAPIV3Schema"]["required"] = ["spec"]
    crd["spec"]["versions"] = versions
    return crd


def _crd_api(kube: Kube) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(kube.api)


def replace_crd(kube: Kube, crd: dict[str, Any], timeout: float = 60) -> None:
    """Delete the CRD (and so every object of it) and create ``crd`` in its place: a change
    of served and stored versions that an update could not make."""
    api, name = _crd_api(kube), crd["metadata"]["name"]
    try:
        api.delete_custom_resource_definition(name)
    except client.exceptions.ApiException as exc:
        if exc.status != 404:
            raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            api.read_custom_resource_definition(name)
        except client.exceptions.ApiException as exc:
            if exc.status == 404:
                break
            raise
        time.sleep(0.2)
    api.create_custom_resource_definition(crd)
    group = crd["spec"]["group"]
    want = {v["name"] for v in crd["spec"]["versions"] if v["served"]}
    while time.monotonic() < deadline:
        established = any(
            c.type == "Established" and c.status == "True"
            for c in (api.read_custom_resource_definition(name).status.conditions or [])
        )
        if established and set(kube.served_versions(group)) == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"CRD {name} not established with {sorted(want)} in {timeout}s")


@contextmanager
def strimzi_release(kube: Kube, release: str | None) -> Iterator[None]:
    """For the block, the KafkaTopic CRD of a Strimzi ``release`` (None: no Strimzi at all);
    the file's shape is back after."""
    name = "kafkatopics.kafka.strimzi.io"
    if release is None:
        _crd_api(kube).delete_custom_resource_definition(name)
        deadline = time.monotonic() + 60
        while kube.served_versions(strimzi.GROUP) and time.monotonic() < deadline:
            time.sleep(0.2)
    else:
        replace_crd(kube, kafkatopic_crd(release))
    try:
        yield
    finally:
        replace_crd(kube, yaml.safe_load(KAFKATOPIC_CRD.read_text()))


def kind_of(kube: Kube, kind: str) -> Kind | None:
    """The API kind to read ``kind`` through; KafkaTopic in the version the cluster serves
    (None when it serves none)."""
    if kind != KAFKA_TOPICS.kind:
        return KINDS[kind]
    version = strimzi.choose(kube.served_versions(strimzi.GROUP))
    return Kind(f"{strimzi.GROUP}/{version}", kind, KAFKA_TOPICS.plural) if version else None


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)


def create_as_topic_operator(bootstrap: str, topics: list[dict[str, Any]]) -> None:
    """What Strimzi's topic operator does before it reports a KafkaTopic Ready: create the
    topic in the Kafka cluster with the resource's name, partitions, replicas and config (one
    that exists already is left as it is). Pods that really run need the topics really there."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = [
        NewTopic(
            t["spec"].get("topicName") or t["metadata"]["name"],
            t["spec"].get("partitions", 1),
            t["spec"].get("replicas", 1),
            config={k: str(v) for k, v in (t["spec"].get("config") or {}).items()},
        )
        for t in topics
    ]
    for future in admin.create_topics(wanted, request_timeout=30).values():
        try:
            future.result(60)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def strimzi_topic_status(
    topic: dict[str, Any], ready: bool = True, reason: str = "", message: str = ""
) -> dict[str, Any]:
    """The status Strimzi's topic operator writes: on success ``Ready: True`` with the topic's
    name and id; on failure ``Ready: False`` with the exception's reason and message."""
    cond: dict[str, Any] = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "lastTransitionTime": now(),
    }
    st: dict[str, Any] = {
        "observedGeneration": topic["metadata"]["generation"],
        "conditions": [cond],
    }
    if ready:
        st["topicName"] = topic["spec"]["topicName"]
        st["topicId"] = "Xn4Vtq0PTqWx0eJ2k3Yb8w"
    else:
        cond.update(reason=reason, message=message)
    return {"status": st}


def spark_status(state: str, attempts: int = 1, error: str = "") -> dict[str, Any]:
    """The status the spark-operator writes for ``state``: ``driverInfo`` always (required),
    the driver pod and application id once submitted, attempts and times as it counts them."""
    submitted = state not in ("", "INVALIDATING", "PENDING_RERUN")
    st: dict[str, Any] = {
        "applicationState": {"state": state},
        "driverInfo": {},
        "submissionAttempts": attempts if submitted else 0,
        "executionAttempts": attempts if submitted else 0,
    }
    if submitted:
        st["driverInfo"] = {
            "podName": "driver",
            "webUIServiceName": "driver-ui-svc",
            "webUIPort": 4040,
            "webUIAddress": "10.96.0.10:4040",
        }
        st["sparkApplicationId"] = "spark-0a1b2c3d4e5f"
        st["submissionID"] = "6b1f0c52-1c57-4d5e-9a43-9a1c1f0f3b8e"
        st["lastSubmissionAttemptTime"] = now()
    if error:
        st["applicationState"]["errorMessage"] = error
    if state in ("FAILED", "COMPLETED"):
        st["terminationTime"] = now()
    return {"status": st}
