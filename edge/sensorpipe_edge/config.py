"""The gateway's settings: the runtime config document, read with the contract's reader
(``sensorpipe_contract.runtime``), plus the environment.

The document is what the operator renders into the gateway's ConfigMap; the environment
overrides exist for the local runner and the tests, which start gateways against
loopback services and temporary directories.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorpipe_contract import identity, runtime
from sensorpipe_contract.fields import FieldSpec

DEFAULT_SPOOL_DIR = "/var/lib/sensorpipe/spool"
DEFAULT_HTTP_ADDRESS = "0.0.0.0"  # a pod's probes and scrapes come to its IP


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A stream as the gateway's hot loop looks it up: its fields by name."""

    name: str
    topic: str
    fields: dict[str, FieldSpec]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    pipeline: str
    gateway: str
    bootstrap_servers: str
    kafka_auth: dict[str, Any] | None
    streams: dict[str, StreamSpec]
    dead_letter_topic: str
    source: dict[str, Any]
    spool_dir: Path
    spool_max_bytes: int = 256 * 1024 * 1024
    http_port: int = 8080
    http_address: str = DEFAULT_HTTP_ADDRESS
    message_timeout_ms: int = 300_000


def kafka_client_config(bootstrap: str, auth: Mapping[str, Any] | None) -> dict[str, Any]:
    """librdkafka settings for the bootstrap address and the contract's authentication block.

    Secrets are read from the environment variables / files the document names, never from
    the document itself.
    """
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap}
    if not auth:
        return conf
    # The operator writes protocol, mechanism and CA out; nothing is guessed here.
    conf["security.protocol"] = auth["securityProtocol"]
    if auth.get("caFile"):
        conf["ssl.ca.location"] = auth["caFile"]
    if auth["type"] == "tls":
        conf["ssl.certificate.location"] = auth["certFile"]
        conf["ssl.key.location"] = auth["keyFile"]
    else:
        conf["sasl.mechanisms"] = auth["mechanism"]
        conf["sasl.username"] = os.environ[auth["usernameEnv"]]
        conf["sasl.password"] = os.environ[auth["passwordEnv"]]
    return conf


def stream_index(doc: runtime.Document) -> dict[str, StreamSpec]:
    """Streams with their topic and fields, by stream name."""
    return {s.name: StreamSpec(s.name, s.topic, {f.name: f for f in s.fields}) for s in doc.streams}


def from_document(doc: Mapping[str, Any], env: Mapping[str, str]) -> GatewayConfig:
    """Settings from a parsed runtime config document and an environment."""
    typed = runtime.read(doc)
    if typed.gateway is None:
        raise runtime.ContractError("gateway is missing: the document is not a gateway's")
    return GatewayConfig(
        pipeline=typed.pipeline,
        gateway=env.get("SENSORPIPE_GATEWAY_NAME") or typed.gateway.name,
        bootstrap_servers=env.get("KAFKA_BOOTSTRAP") or typed.bootstrap_servers,
        kafka_auth=None if typed.authentication is None else dict(typed.authentication),
        streams=stream_index(typed),
        dead_letter_topic=typed.dead_letter_topic,
        source=dict(typed.gateway.source),
        spool_dir=Path(env.get("SENSORPIPE_SPOOL_DIR", DEFAULT_SPOOL_DIR)),
        spool_max_bytes=int(env.get("SENSORPIPE_SPOOL_MAX_BYTES", 256 * 1024 * 1024)),
        http_port=int(env.get("SENSORPIPE_HTTP_PORT", "8080")),
        http_address=env.get("SENSORPIPE_HTTP_ADDRESS", DEFAULT_HTTP_ADDRESS),
        message_timeout_ms=int(env.get("SENSORPIPE_MESSAGE_TIMEOUT_MS", "300000")),
    )


def config_path(path: str | None, env: Mapping[str, str]) -> str:
    """The document's path: ``path``, else $SENSORPIPE_CONFIG, else where the operator
    mounts it."""
    return path or env.get("SENSORPIPE_CONFIG") or identity.CONFIG_PATH


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Settings from the document at ``path`` (or $SENSORPIPE_CONFIG) and the environment."""
    env = os.environ if env is None else env
    return from_document(json.loads(Path(config_path(path, env)).read_text()), env)
