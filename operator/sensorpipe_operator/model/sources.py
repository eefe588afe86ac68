"""Where a gateway reads: a serial device, MQTT, the simulator or a foreign Kafka topic, and
how a foreign JSON payload maps onto a stream's fields."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorpipe_operator.model.cursor import (
    TOPIC_PATTERN,
    Cursor,
    SecretRef,
    secret_ref,
    topic_name,
)
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.streams import Stream

SOURCE_TYPES = ("serial", "mqtt", "simulated", "kafka")
# Sources whose input may be foreign JSON payloads, mapped by ``source.payload``.
PAYLOAD_SOURCES = ("mqtt", "kafka")
PAYLOAD_FORMATS = ("json",)
TIME_UNITS = ("s", "ms", "rfc3339")
KAFKA_START = ("earliest", "latest")
# A JSON member of a foreign payload; dots separate the names of nested objects.
MEMBER_PATTERN = r"^[^.\s]+(\.[^.\s]+)*$"
BAUD_RATES = (300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
# The simulator's fault kinds (sensorpipe_edge.simulation.Faults), as the CRD lists them.
SIMULATOR_FAULTS = ("stuck", "spike", "dropout", "silent", "corrupt")
# A subscription filter MQTT accepts: + and # stand for whole levels, # only as the last one.
MQTT_FILTER_PATTERN = r"^(#|(\+|[^#+/\x00]*)(/(\+|[^#+/\x00]*))*(/#)?)$"
# Serial devices only: a gateway mounts this path from the node, so never /dev/mem or ../.
SERIAL_DEVICE_PATTERN = r"^/dev/(tty[A-Za-z]+[0-9]+|serial/by-(id|path)/[A-Za-z0-9._:+-]+)$"
# A device plugin's extended resource: <DNS subdomain with a dot>/<name> (the CRD's pattern).
DEVICE_RESOURCE_PATTERN = (
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+"
    r"/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)


@dataclass(frozen=True)
class SerialSource:
    device: str
    baud_rate: int = 115200
    # A device plugin's resource that hands the gateway its device (``device`` is then the
    # path inside the container); None mounts the node's ``device`` by hostPath.
    resource: str | None = None


@dataclass(frozen=True)
class MqttSource:
    url: str
    topic_filter: str = "sensors/#"
    qos: int = 1
    credentials: SecretRef | None = None


@dataclass(frozen=True)
class SimulatedSource:
    devices: int = 10
    interval: float = 1.0
    duration: float = 0.0
    seed: int = 1
    faults: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KafkaSource:
    """A topic a foreign producer writes, read in a consumer group (``group`` empty: the
    pipeline's default, see ``Pipeline.source_group``)."""

    topic: str
    group: str = ""
    start_from: str = "earliest"


@dataclass(frozen=True)
class PayloadMapping:
    """Where a foreign JSON payload keeps a reading of ``stream``: member paths, with
    ``fields`` resolved for every field of the stream (undeclared: the field's own name)."""

    stream: str
    device_id: str
    fields: dict[str, str]
    time: str = ""
    time_unit: str = "ms"
    seq: str = ""
    format: str = "json"


@dataclass(frozen=True)
class Source:
    type: str
    serial: SerialSource | None = None
    mqtt: MqttSource | None = None
    simulated: SimulatedSource | None = None
    kafka: KafkaSource | None = None
    payload: PayloadMapping | None = None


def _member(cur: Cursor, key: str, default: str | None = None) -> str:
    """A JSON member path; empty only where that means "none" (an optional member)."""
    value = cur.string(key, default, pattern=MEMBER_PATTERN, max_len=128)
    if not value and default != "":
        raise SpecError(cur.at(key), "must not be empty")
    return value


def _payload(cur: Cursor, streams: tuple[Stream, ...]) -> PayloadMapping:
    """The declared mapping of foreign JSON payloads onto one stream's readings."""
    stream_name = cur.string("stream")
    stream = next((s for s in streams if s.name == stream_name), None)
    if stream is None:
        raise SpecError(cur.at("stream"), f"names no stream in spec.streams: {stream_name!r}")
    names = [f.name for f in stream.fields]
    fields = cur.obj("fields")
    for key in fields.data:
        if key not in names:
            raise SpecError(fields.at(key), f"is no field of stream {stream_name!r}")
    return PayloadMapping(
        stream=stream_name,
        device_id=_member(cur, "deviceId"),
        fields={name: _member(fields, name, name) for name in names},
        time=_member(cur, "time", ""),
        time_unit=cur.string("timeUnit", "ms", choices=TIME_UNITS),
        seq=_member(cur, "seq", ""),
        format=cur.string("format", "json", choices=PAYLOAD_FORMATS),
    )


def parse_source(cur: Cursor, streams: tuple[Stream, ...]) -> Source:
    stype = cur.string("type", choices=SOURCE_TYPES)
    for other in SOURCE_TYPES:
        if other != stype and cur.has(other):
            raise SpecError(cur.at(other), f"must not be set when type is {stype}")
    if not cur.has(stype) and stype != "simulated":
        raise SpecError(cur.at(stype), f"is required when type is {stype}")
    if cur.has("payload") and stype not in PAYLOAD_SOURCES:
        raise SpecError(cur.at("payload"), f"is only for {' and '.join(PAYLOAD_SOURCES)} sources")
    if stype == "kafka" and not cur.has("payload"):
        raise SpecError(cur.at("payload"), "is required when type is kafka")
    payload = _payload(cur.obj("payload"), streams) if cur.has("payload") else None
    block = cur.obj(stype)
    if stype == "kafka":
        return Source(
            type=stype,
            kafka=KafkaSource(
                topic=topic_name(block, "topic") or block.string("topic", None),
                group=block.string("group", "", pattern=TOPIC_PATTERN, max_len=249),
                start_from=block.string("startFrom", "earliest", choices=KAFKA_START),
            ),
            payload=payload,
        )
    if stype == "serial":
        return Source(
            type=stype,
            serial=SerialSource(
                device=block.string("device", pattern=SERIAL_DEVICE_PATTERN),
                baud_rate=_baud(block),
                resource=_device_resource(block),
            ),
        )
    if stype == "mqtt":
        if block.data.get("topicFilter") == "":
            raise SpecError(block.at("topicFilter"), "must not be empty")
        creds = block.obj("credentialsSecretRef") if block.has("credentialsSecretRef") else None
        return Source(
            type=stype,
            mqtt=MqttSource(
                url=block.string(
                    "url", pattern=r"^(tcp|ssl|ws|wss|mqtt|mqtts)://[^\s/]+(:[0-9]+)?/?$"
                ),
                topic_filter=block.string(
                    "topicFilter", "sensors/#", pattern=MQTT_FILTER_PATTERN, max_len=256
                ),
                qos=block.integer("qos", 1, 0, 2),
                credentials=secret_ref(creds) if creds else None,
            ),
            payload=payload,
        )
    faults = block.num_map("faults")
    for key, rate in faults.items():
        if key not in SIMULATOR_FAULTS:
            raise SpecError(
                f"{block.at('faults')}.{key}",
                f"is no simulator fault; the faults are {', '.join(SIMULATOR_FAULTS)}",
            )
        if not 0 <= rate <= 1:
            raise SpecError(f"{block.at('faults')}.{key}", "must be a rate between 0 and 1")
    interval = block.duration("interval", "1s")
    if interval <= 0:
        raise SpecError(block.at("interval"), "must be above zero")
    return Source(
        type=stype,
        simulated=SimulatedSource(
            devices=block.integer("devices", 10, 1, 100_000),
            interval=interval,
            duration=block.duration("duration", "0s"),
            seed=block.integer("seed", 1, 0, 2**31 - 1),
            faults=faults,
        ),
    )


def _device_resource(block: Cursor) -> str | None:
    """``serial.resource`` as the CRD's pattern and CEL rule admit it, or None."""
    if not block.has("resource"):
        return None
    value = block.string("resource", pattern=DEVICE_RESOURCE_PATTERN, max_len=253)
    if value.startswith("kubernetes.io/") or ".kubernetes.io/" in value:
        raise SpecError(block.at("resource"), "a device plugin resource is not in kubernetes.io")
    return value


def _baud(block: Cursor) -> int:
    baud = block.integer("baudRate", 115200, 300, 921600)
    if baud not in BAUD_RATES:
        raise SpecError(block.at("baudRate"), f"must be a standard rate ({BAUD_RATES})")
    return baud
