"""The autoscaler reads the broker's credentials from the Secret the spec references, on the
real API server, and holds with the reason when the Secret is missing."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.controller import PipelineMemory, ScalingController
from tests.integration.scaling.conftest import create_pipeline, pipeline_spec

pytestmark = pytest.mark.integration


def scram_spec(bootstrap: str) -> dict[str, object]:
    spec = pipeline_spec(bootstrap, {"pollInterval": "1s"})
    kafka = dict(spec["kafka"])  # type: ignore[call-overload]
    kafka["authentication"] = {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}}
    return {**spec, "kafka": kafka}


def test_scram_credentials_come_from_the_referenced_secret(api, kube_namespace, kafka_bootstrap):
    secret = {
        "metadata": {"name": "kafka-user"},
        "data": {
            "username": base64.b64encode(b"sensor").decode(),
            "password": base64.b64encode(b"s3cret").decode(),
        },
    }
    client.CoreV1Api(api).create_namespaced_secret(kube_namespace, secret)
    pipeline = parse(scram_spec(kafka_bootstrap), "farm", kube_namespace)
    conf = ScalingController(api).kafka_conf(pipeline)
    assert conf["bootstrap.servers"] == kafka_bootstrap
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("sensor", "s3cret")


def test_missing_secret_holds_and_says_why(api, kube_namespace, kafka_bootstrap, unique_name):
    body, _ = create_pipeline(api, kube_namespace, unique_name, scram_spec(kafka_bootstrap))
    status = ScalingController(api).poll(body, PipelineMemory())
    assert status is not None
    (target,) = status["targets"]
    assert target["error"].startswith("Kafka credentials (spec.kafka.authentication): 404")
    assert target["lastDecision"]["reason"] == "BrokerUnreachable"
    assert target["currentReplicas"] == 1
