"""The process's Kafka clients: settings from the spec and its Secret, one client per broker
and Secret, a rotated Secret replacing (and releasing) its client, nothing secret in a key or a
log line."""

import gc
import logging
import os
import weakref

import pytest
from kubernetes import client

from sensorpipe_operator.kafka_clients import KafkaClients, auth_config, digest, slot
from sensorpipe_operator.kube import Kube
from sensorpipe_operator.model.cursor import SecretRef
from sensorpipe_operator.model.kafka import KafkaAuth
from sensorpipe_operator.model.pipeline import parse

from .specs import minimal, with_change

pytestmark = pytest.mark.unit
SCRAM = KafkaAuth("scram-sha-512", SecretRef("k"))
SCRAM_TLS = KafkaAuth("scram-sha-512", SecretRef("k"), tls=True)
MTLS = KafkaAuth("tls", SecretRef("k"), tls=True)


def test_scram_plain_and_over_tls():
    plain = auth_config(SCRAM, {"username": "u", "password": "p", "ca.crt": "CA"})
    assert plain == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    tls = auth_config(SCRAM_TLS, {"username": "u", "password": "p", "ca.crt": "CA"})
    assert tls["security.protocol"] == "SASL_SSL"
    assert tls["ssl.ca.pem"] == "CA"


def test_mutual_tls_passes_pem_inline():
    cfg = auth_config(MTLS, {"ca.crt": "CA", "user.crt": "CRT", "user.key": "KEY"})
    assert cfg == {
        "security.protocol": "SSL",
        "ssl.ca.pem": "CA",
        "ssl.certificate.pem": "CRT",
        "ssl.key.pem": "KEY",
    }


def test_missing_key_is_named():
    with pytest.raises(KeyError, match="password"):
        auth_config(SCRAM, {"username": "u"})
    with pytest.raises(KeyError, match="ca.crt"):
        auth_config(SCRAM_TLS, {"username": "u", "password": "p"})


# Nothing listens here: making a client opens no connection before it is used.
BROKER = "127.0.0.1:9"
WHERE = (BROKER, "iot", "kafka-user")


def scram(password: str) -> dict[str, str]:
    return {
        "bootstrap.servers": BROKER,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "sensor",
        "sasl.password": password,
    }


def clients() -> KafkaClients:
    return KafkaClients(Kube(client.ApiClient()))


def test_one_client_per_broker_and_secret_while_the_settings_stay():
    kafka = clients()
    first = kafka.for_settings(WHERE, scram("first-s3cret"))
    assert kafka.for_settings(WHERE, scram("first-s3cret")) is first
    other = kafka.for_settings((BROKER, "iot", "other-user"), scram("first-s3cret"))
    assert other is not first
    assert len(kafka) == 2


def test_a_rotated_secret_replaces_the_client_and_releases_the_old_one(caplog):
    kafka = clients()
    old = kafka.for_settings(WHERE, scram("first-s3cret"))
    released = weakref.ref(old)
    with caplog.at_level(logging.INFO, logger="sensorpipe_operator.kafka_clients"):
        new = kafka.for_settings(WHERE, scram("second-s3cret"))
    assert new is not old
    assert len(kafka) == 1
    del old
    gc.collect()
    assert released() is None  # librdkafka destroys the handle with its last reference
    assert "replaced its Admin client" in caplog.text
    assert "kafka-user" in caplog.text
    assert "s3cret" not in caplog.text


def native_threads() -> int:
    """Threads of this process, librdkafka's included (each client runs several)."""
    return len(os.listdir("/proc/self/task"))


def test_rotating_many_times_holds_one_client_and_closes_the_others():
    kafka = clients()
    made = [weakref.ref(kafka.for_settings(WHERE, scram("s3cret-0")))]
    with_one_client = native_threads()
    made += [weakref.ref(kafka.for_settings(WHERE, scram(f"s3cret-{i}"))) for i in range(1, 6)]
    gc.collect()
    assert len(kafka) == 1
    assert [ref() is not None for ref in made] == [False] * 5 + [True]
    # the replaced clients' threads have ended: no more threads than with one client (in a
    # long session other tests' threads may end meanwhile, so fewer is possible)
    assert native_threads() <= with_one_client


def test_keys_hold_no_secret():
    spec = with_change(
        minimal(),
        "kafka.authentication",
        {"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}},
    )
    pipeline = parse(spec, "farm", "iot")
    assert slot(pipeline) == (pipeline.kafka.bootstrap_servers, "iot", "kafka-user")
    assert digest(scram("first-s3cret")) != digest(scram("second-s3cret"))
    assert "s3cret" not in digest(scram("first-s3cret"))
