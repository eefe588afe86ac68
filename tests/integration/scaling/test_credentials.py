"""The autoscaler reads the broker's credentials from the Secret the spec references, on the
real API server, holds with the reason when the Secret is missing, and a rotated Secret
replaces the process's Kafka client (shared with the admin topic backend) instead of adding
one."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import weakref

import pytest
from kubernetes import client

from sensorpipe_operator.admin_topics import AdminTopics
from sensorpipe_operator.kafka_clients import KafkaClients, connection
from sensorpipe_operator.kube import Kube
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.controller import PipelineMemory, ScalingController
from tests.integration.scaling.conftest import create_pipeline, make_controller, pipeline_spec

pytestmark = pytest.mark.integration


def scram_spec(bootstrap: str) -> dict[str, object]:
    spec = pipeline_spec(bootstrap, {"pollInterval": "1s"})
    kafka = dict(spec["kafka"])  # type: ignore[call-overload]
    kafka["authentication"] = {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}}
    return {**spec, "kafka": kafka}


def credentials(password: str) -> dict[str, str]:
    return {
        "username": base64.b64encode(b"sensor").decode(),
        "password": base64.b64encode(password.encode()).decode(),
    }


def test_scram_credentials_come_from_the_referenced_secret(api, kube_namespace, kafka_bootstrap):
    secret = {"metadata": {"name": "kafka-user"}, "data": credentials("s3cret")}
    client.CoreV1Api(api).create_namespaced_secret(kube_namespace, secret)
    pipeline = parse(scram_spec(kafka_bootstrap), "farm", kube_namespace)
    conf = connection(Kube(api), pipeline)
    assert conf["bootstrap.servers"] == kafka_bootstrap
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("sensor", "s3cret")


def test_missing_secret_holds_and_says_why(api, kube_namespace, kafka_bootstrap, unique_name):
    body, _ = create_pipeline(api, kube_namespace, unique_name, scram_spec(kafka_bootstrap))
    status = make_controller(api).poll(body, PipelineMemory())
    assert status is not None
    (target,) = status["targets"]
    assert target["error"].startswith("Kafka credentials (spec.kafka.authentication): 404")
    assert target["lastDecision"]["reason"] == "BrokerUnreachable"
    assert target["currentReplicas"] == 1


def test_a_rotated_secret_replaces_the_shared_client_and_none_accumulate(
    api, kube_namespace, kafka_bootstrap, unique_name
):
    """The scaler and the admin topic backend of one process share one client per broker and
    Secret; each rotation replaces it, and the replaced client is released (librdkafka closes
    a client with its last reference), so rotations never add clients. The stack's broker
    speaks no SASL: the polls report it unreachable, which is beside the point here."""
    core = client.CoreV1Api(api)
    secret_name = f"{unique_name}-user"[:63]
    core.create_namespaced_secret(
        kube_namespace, {"metadata": {"name": secret_name}, "data": credentials("first-s3cret")}
    )
    spec = scram_spec(kafka_bootstrap)
    spec["kafka"]["authentication"]["secretRef"]["name"] = secret_name  # type: ignore[index]
    body, pipeline = create_pipeline(api, kube_namespace, unique_name, spec)
    kube = Kube(api)
    kafka = KafkaClients(kube)
    controller = ScalingController(kube, kafka, request_timeout=1.0)
    topics = AdminTopics(kafka)

    assert controller.poll(body, PipelineMemory()) is not None
    released = [weakref.ref(kafka.admin(pipeline))]
    assert len(kafka) == 1
    threads = len(os.listdir("/proc/self/task"))  # librdkafka's native threads included
    for i in range(3):
        core.patch_namespaced_secret(
            secret_name, kube_namespace, {"data": credentials(f"rotated-{i}-s3cret")}
        )
        if i == 1:  # the admin topic backend picks the rotation up on its side of the slot
            asyncio.run(topics.readiness(body, pipeline, []))
        else:
            assert controller.poll(body, PipelineMemory()) is not None
        current = kafka.admin(pipeline)
        assert current is not released[-1]()
        released.append(weakref.ref(current))
        del current
        assert len(kafka) == 1
    gc.collect()
    assert [ref() is None for ref in released] == [True, True, True, False]
    assert len(os.listdir("/proc/self/task")) == threads  # the replaced clients are closed
