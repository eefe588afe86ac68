"""The gateway's settings: the runtime config document (docs/contracts.md §2) + environment.

The document is what the operator renders into the gateway's ConfigMap; the environment
overrides exist for the local runner and the tests, which start gateways against
loopback services and temporary directories. Readers ignore keys they do not know.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = "/etc/sensorpipe/pipeline.json"
DEFAULT_SPOOL_DIR = "/var/lib/sensorpipe/spool"
DEFAULT_HTTP_ADDRESS = "0.0.0.0"  # a pod's probes and scrapes come to its IP


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str  # "number" | "boolean"
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class StreamSpec:
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


def parse_streams(doc: Mapping[str, Any]) -> dict[str, StreamSpec]:
    """Streams with their topic and field ranges, by stream name."""
    pipeline = doc["pipeline"]["name"]
    topics = doc.get("topics", {}).get("streams", {})
    out: dict[str, StreamSpec] = {}
    for s in doc.get("streams", []):
        fields = {
            f["name"]: FieldSpec(f["name"], f.get("type", "number"), f.get("min"), f.get("max"))
            for f in s.get("fields", [])
        }
        out[s["name"]] = StreamSpec(
            s["name"], topics.get(s["name"]) or f"{pipeline}.{s['name']}", fields
        )
    return out


def from_document(doc: Mapping[str, Any], env: Mapping[str, str]) -> GatewayConfig:
    """Settings from a parsed runtime config document and an environment."""
    pipeline = doc["pipeline"]["name"]
    gateway = doc.get("gateway") or {"name": "gateway", "source": {"type": "serial"}}
    kafka = doc.get("kafka", {})
    return GatewayConfig(
        pipeline=pipeline,
        gateway=env.get("SENSORPIPE_GATEWAY_NAME") or gateway["name"],
        bootstrap_servers=env.get("KAFKA_BOOTSTRAP") or kafka["bootstrapServers"],
        kafka_auth=kafka.get("authentication"),
        streams=parse_streams(doc),
        dead_letter_topic=doc.get("topics", {}).get("deadLetter") or f"{pipeline}.deadletter",
        source=gateway["source"],
        spool_dir=Path(env.get("SENSORPIPE_SPOOL_DIR", DEFAULT_SPOOL_DIR)),
        spool_max_bytes=int(env.get("SENSORPIPE_SPOOL_MAX_BYTES", 256 * 1024 * 1024)),
        http_port=int(env.get("SENSORPIPE_HTTP_PORT", "8080")),
        http_address=env.get("SENSORPIPE_HTTP_ADDRESS", DEFAULT_HTTP_ADDRESS),
        message_timeout_ms=int(env.get("SENSORPIPE_MESSAGE_TIMEOUT_MS", "300000")),
    )


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Settings from the document at ``path`` (or $SENSORPIPE_CONFIG) and the environment."""
    env = os.environ if env is None else env
    path = path or env.get("SENSORPIPE_CONFIG") or DEFAULT_CONFIG_PATH
    return from_document(json.loads(Path(path).read_text()), env)
