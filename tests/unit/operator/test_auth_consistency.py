"""Issue #18: one ``kafka.authentication`` setting gives the same protocol, mechanism and CA
in the gateway, the Spark job (connector and offset client) and the operator's admin backend.
``scram-sha-512`` used to be SASL_SSL (without a CA) in the gateway and SASL_PLAINTEXT in the
others."""

from __future__ import annotations

from typing import Any

import pytest

from sensorpipe_edge.config import kafka_client_config
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders.common import kafka_volumes
from sensorpipe_operator.kafka_clients import auth_config
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_spark.kafka_io import auth_options
from sensorpipe_spark.offsets import client_config

from .specs import full

pytestmark = pytest.mark.unit
SECRET = {"username": "u", "password": "p", "ca.crt": "CA", "user.crt": "C", "user.key": "K"}


def _pipeline(auth: dict[str, Any]) -> Any:
    spec = full()
    spec["kafka"]["authentication"] = auth
    return parse(spec, "farm", "iot")


@pytest.mark.parametrize(
    ("auth", "protocol", "mechanism", "with_ca"),
    [
        (
            {"type": "scram-sha-512", "secretRef": {"name": "k"}},
            "SASL_PLAINTEXT",
            "SCRAM-SHA-512",
            False,
        ),
        (
            {"type": "scram-sha-512", "tls": True, "secretRef": {"name": "k"}},
            "SASL_SSL",
            "SCRAM-SHA-512",
            True,
        ),
        ({"type": "tls", "secretRef": {"name": "k"}}, "SSL", None, True),
    ],
    ids=["scram", "scram-over-tls", "mutual-tls"],
)
def test_every_component_speaks_the_same_protocol(monkeypatch, auth, protocol, mechanism, with_ca):
    monkeypatch.setenv(rc.KAFKA_USERNAME_ENV, "u")
    monkeypatch.setenv(rc.KAFKA_PASSWORD_ENV, "p")
    pipeline = _pipeline(auth)
    contract = rc.kafka_authentication(pipeline.kafka.authentication)
    assert contract is not None
    gateway = kafka_client_config("b:1", contract)
    admin = auth_config(pipeline.kafka.authentication, SECRET)
    connector = auth_options(contract) if auth["type"] != "tls" else {}
    offsets = client_config(_job(contract))
    for conf in (gateway, admin, offsets):
        assert conf["security.protocol"] == protocol
        assert ("ssl.ca.location" in conf or "ssl.ca.pem" in conf) == with_ca
    for conf in (gateway,):
        assert conf.get("sasl.mechanisms") == mechanism
    for conf in (admin, offsets):
        assert conf.get("sasl.mechanism") == mechanism
    if connector:
        assert connector["kafka.security.protocol"] == protocol
        assert connector["kafka.sasl.mechanism"] == mechanism
        assert ("kafka.ssl.truststore.location" in connector) == with_ca
    volumes, mounts = kafka_volumes(pipeline)
    assert bool(volumes) == with_ca  # the CA file the contract names is mounted
    if with_ca:
        assert contract["caFile"].startswith(mounts[0]["mountPath"])


def _job(contract: dict[str, Any]) -> Any:
    class Job:
        bootstrap_servers = "b:1"
        authentication = contract

    return Job()


def test_mutual_tls_without_tls_is_refused():
    from sensorpipe_operator.model.errors import SpecError

    with pytest.raises(SpecError, match=r"spec.kafka.authentication.tls"):
        _pipeline({"type": "tls", "tls": False, "secretRef": {"name": "k"}})
