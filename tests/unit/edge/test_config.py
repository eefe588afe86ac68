"""The runtime config document (contracts §2) and environment as gateway settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorpipe_edge.config import from_document, kafka_client_config
from tests.unit.edge.documents import pipeline_document

pytestmark = pytest.mark.unit


def test_document_with_environment_overrides():
    doc = pipeline_document("farm", "broker:9092")
    doc["topics"]["streams"]["climate"] = "custom.climate"
    cfg = from_document(
        doc,
        {
            "KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "SENSORPIPE_SPOOL_DIR": "/tmp/s",
            "SENSORPIPE_HTTP_PORT": "0",
            "SENSORPIPE_SPOOL_MAX_BYTES": "1000",
            "SENSORPIPE_HTTP_ADDRESS": "127.0.0.1",
        },
    )
    assert cfg.bootstrap_servers == "127.0.0.1:1"
    assert cfg.spool_dir == Path("/tmp/s")
    assert (cfg.http_address, cfg.http_port, cfg.spool_max_bytes) == ("127.0.0.1", 0, 1000)
    assert from_document(doc, {}).http_address == "0.0.0.0"
    assert cfg.streams["climate"].topic == "custom.climate"
    assert cfg.streams["distance"].topic == "farm.distance"
    assert cfg.streams["climate"].fields["temperature"].max == 80
    assert cfg.dead_letter_topic == "farm.deadletter"
    assert cfg.gateway == "bench"
    assert from_document(doc, {}).bootstrap_servers == "broker:9092"


def test_kafka_authentication_reads_secrets_from_where_the_document_points():
    assert kafka_client_config("b:1", None) == {"bootstrap.servers": "b:1"}
    tls = kafka_client_config(
        "b:1",
        {
            "type": "tls",
            "securityProtocol": "SSL",
            "caFile": "/c/ca",
            "certFile": "/c/crt",
            "keyFile": "/c/key",
        },
    )
    assert tls["security.protocol"] == "SSL"
    assert tls["ssl.key.location"] == "/c/key"
    scram_block = {
        "type": "scram-sha-512",
        "securityProtocol": "SASL_PLAINTEXT",
        "mechanism": "SCRAM-SHA-512",
        "usernameEnv": "U_ENV",
        "passwordEnv": "P_ENV",
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("U_ENV", "alice")
        mp.setenv("P_ENV", "s3cret")
        scram = kafka_client_config("b:1", scram_block)
    assert (scram["sasl.mechanisms"], scram["sasl.username"], scram["sasl.password"]) == (
        "SCRAM-SHA-512",
        "alice",
        "s3cret",
    )
