"""Turning a cluster spec into the same spec with this machine's endpoints and paths.

Pure: model in, model out. Only where things are changes (bootstrap address, lake and
checkpoint folders, the serial device, the MQTT broker, one replica per topic); what the
pipeline does (streams, ranges, windows, alert rules) is never touched, so the runtime
config documents rendered from the result exercise the same behaviour as on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sensorpipe_local.workdir import WorkDir
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.sources import SerialSource, Source
from sensorpipe_operator.model.workloads import Gateway

FIRMWARE_BAUD = 115200


@dataclass(frozen=True)
class LocalOptions:
    bootstrap: str
    workdir: WorkDir
    pg_dsn: str = ""
    mqtt_url: str = ""
    firmware_node: str = ""  # name of an extra serial gateway fed by the firmware under simavr


def _gateway(gateway: Gateway, opts: LocalOptions) -> Gateway:
    source = gateway.source
    if source.serial is not None:
        serial = replace(source.serial, device=str(opts.workdir.firmware_tty(gateway.name)))
        source = replace(source, serial=serial)
    if source.mqtt is not None and opts.mqtt_url:
        source = replace(source, mqtt=replace(source.mqtt, url=opts.mqtt_url, credentials=None))
    return replace(gateway, source=source, replicas=1)


def firmware_gateway(name: str, opts: LocalOptions) -> Gateway:
    """A serial gateway reading the firmware node that the runner starts under simavr."""
    device = str(opts.workdir.firmware_tty(name))
    return Gateway(
        name=name, source=Source(type="serial", serial=SerialSource(device, FIRMWARE_BAUD))
    )


def localize(pipeline: Pipeline, opts: LocalOptions) -> Pipeline:
    """The pipeline as it runs on this machine (see the module docstring)."""
    kafka = replace(
        pipeline.kafka,
        bootstrap_servers=opts.bootstrap,
        topic_backend="admin",
        authentication=None,
        topic_defaults=replace(pipeline.kafka.topic_defaults, replicas=1, min_insync_replicas=1),
    )
    gateways = [_gateway(g, opts) for g in pipeline.gateways]
    if opts.firmware_node and all(g.name != opts.firmware_node for g in gateways):
        gateways.append(firmware_gateway(opts.firmware_node, opts))
    sinks = replace(
        pipeline.processing.sinks,
        lake_path=str(opts.workdir.lake),
        postgres=pipeline.processing.sinks.postgres if opts.pg_dsn else None,
    )
    processing = replace(
        pipeline.processing, sinks=sinks, checkpoint_path=str(opts.workdir.checkpoints)
    )
    return replace(pipeline, kafka=kafka, gateways=tuple(gateways), processing=processing)
