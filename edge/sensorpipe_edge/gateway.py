"""``sensorpipe-gateway``: wires config, source, sink, metrics and runs the loop.

Usable as a library too: ``build(config)`` returns the pieces without starting anything,
so the local runner can run a gateway in-process, and tests can drive ``Gateway.handle``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from sensorpipe_edge.boots import BootEpochs
from sensorpipe_edge.cli import config_argument, stop_on_signals
from sensorpipe_edge.config import GatewayConfig, kafka_client_config, load
from sensorpipe_edge.core import Gateway
from sensorpipe_edge.metrics import Stats, make_registry, serve
from sensorpipe_edge.payload import PayloadMapping
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.resume import ResumePoints
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.simulation import Faults, Fleet
from sensorpipe_edge.sink import KafkaSink
from sensorpipe_edge.sources import Source
from sensorpipe_edge.sources.kafka import KafkaSource
from sensorpipe_edge.sources.mqtt import MqttSource
from sensorpipe_edge.sources.serial import SerialSource
from sensorpipe_edge.sources.simulated import SimulatedSource
from sensorpipe_edge.spool import Spool

log = logging.getLogger("sensorpipe_edge.gateway")
STALL_SECONDS = 30.0


@dataclass
class Built:
    gateway: Gateway
    sources: list[Source]
    registry: CollectorRegistry


def make_source(config: GatewayConfig, resume: ResumePoints, env: Mapping[str, str]) -> Source:
    """The source the document's ``gateway.source`` block describes."""
    src = config.source
    kind = src["type"]
    if kind == "serial":
        serial = src.get("serial") or {}
        device = env.get("SENSORPIPE_SERIAL_DEVICE") or serial["device"]
        return SerialSource(device, int(serial.get("baudRate", 115200)))
    if kind == "mqtt":
        m = src.get("mqtt") or {}
        client_id = env.get("SENSORPIPE_MQTT_CLIENT_ID") or (
            f"sensorpipe-{config.pipeline}-{config.gateway}"
        )
        return MqttSource(
            env.get("MQTT_URL") or m["url"],
            m.get("topicFilter", "sensors/#"),
            client_id,
            int(m.get("qos", 1)),
            m.get("credentials"),
            _mapping(src),
        )
    if kind == "kafka":
        k = src["kafka"]
        mapping = _mapping(src)
        if mapping is None:
            raise ValueError("a kafka source needs a payload mapping")
        return KafkaSource(
            kafka_client_config(config.bootstrap_servers, config.kafka_auth),
            k["topic"],
            k["group"],
            mapping,
            k.get("startFrom", "earliest"),
        )
    if kind == "simulated":
        sim = src.get("simulated") or {}
        fleet = Fleet(
            int(sim.get("devices", 10)),
            max(1, round(float(sim.get("interval", 1.0)) * 1000)),
            int(sim.get("seed", 1)),
            config.streams,
            Faults.from_mapping(sim.get("faults") or {}),
            prefix=config.gateway,
        )
        return SimulatedSource(fleet, resume, round(float(sim.get("duration", 0)) * 1000))
    raise ValueError(f"unknown source type {kind!r}")


def _mapping(src: Mapping[str, Any]) -> PayloadMapping | None:
    """The source's declared mapping of foreign JSON payloads, if it has one."""
    block = src.get("payload")
    return PayloadMapping.from_document(block) if block else None


def build(config: GatewayConfig, env: Mapping[str, str] | None = None) -> Built:
    """Every piece of a gateway for ``config``, nothing started yet."""
    env = os.environ if env is None else env
    stats = Stats()
    registry, latency = make_registry(stats)
    spool = Spool(config.spool_dir / "spool", config.spool_max_bytes)
    resume = ResumePoints(config.spool_dir / "resume.json")
    source = make_source(config, resume, env)
    sink = KafkaSink(
        kafka_client_config(config.bootstrap_servers, config.kafka_auth),
        spool,
        stats,
        latency,
        message_timeout_ms=config.message_timeout_ms,
        report_each=source.acks,
    )
    builder = RecordBuilder(config, compile_validator())
    # A source that may present a line again unmarked keeps every device in epoch 0 (boots.py).
    tells = source.tells_redeliveries
    boots = BootEpochs(config.spool_dir / "boots.json") if tells else None
    gateway = Gateway(builder, sink, stats, config.dead_letter_topic, resume, boots=boots)
    return Built(gateway, [source], registry)


def main(argv: list[str] | None = None) -> None:
    config = load(config_argument(__doc__, argv))
    built = build(config)
    stats = built.gateway.stats
    server = serve(
        config.http_address,
        config.http_port,
        built.registry,
        live=lambda: time.monotonic() - stats.heartbeat < STALL_SECONDS,
        ready=lambda: stats.source_connected and stats.kafka_online,
    )
    log.info(
        "gateway %s of %s: source %s, http port %d",
        config.gateway,
        config.pipeline,
        built.sources[0].name,
        server.server_address[1],
    )
    built.gateway.run(built.sources, stop_on_signals())
    server.shutdown()
