"""The typed model of a ``SensorPipeline`` spec (docs/contracts.md §1).

The spec is parsed once, here, into frozen dataclasses with every default applied and every
duration in seconds; builders and the runtime config only ever read the model, never the raw
dict, so a default or a check lives in one place. Parsing repeats the CRD's checks (the local
runner has no API server to run them) and every error names the field path the way the API
server does (``spec.streams[1].fields[0].min``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_contract import naming
from sensorpipe_contract.fields import FIELD_TYPES
from sensorpipe_contract.runtime import LAKE_FORMATS
from sensorpipe_operator.durations import DurationError, parse_duration

NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
TOPIC_PATTERN = r"^[a-zA-Z0-9._-]+$"
# The Spark lines the job and its Delta jars support (builders/sparkapp.DELTA_FOR_SPARK).
SPARK_VERSION_PATTERN = r"^4\.[02]\.[0-9]+$"
PIPELINE_NAME_MAX = 40
CHILD_NAME_MAX = 24
TOPIC_BACKENDS = ("strimzi", "admin")
AUTH_TYPES = ("scram-sha-512", "tls")
SOURCE_TYPES = ("serial", "mqtt", "simulated", "kafka")
# Sources whose input may be foreign JSON payloads, mapped by ``source.payload``.
PAYLOAD_SOURCES = ("mqtt", "kafka")
PAYLOAD_FORMATS = ("json",)
TIME_UNITS = ("s", "ms", "rfc3339")
KAFKA_START = ("earliest", "latest")
# A JSON member of a foreign payload; dots separate the names of nested objects.
MEMBER_PATTERN = r"^[^.\s]+(\.[^.\s]+)*$"
SEVERITIES = ("info", "warning", "critical")
CONSUMER_TYPES = ("alert-notifier",)
SCALING_TARGETS = ("consumers", "spark")
RESTART_TYPES = ("Always", "OnFailure")
BAUD_RATES = (300, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600)
MAX_WATERMARK_SECONDS = 86400.0
# The simulator's fault kinds (sensorpipe_edge.simulation.Faults), as the CRD lists them.
SIMULATOR_FAULTS = ("stuck", "spike", "dropout", "silent", "corrupt")
# A subscription filter MQTT accepts: + and # stand for whole levels, # only as the last one.
MQTT_FILTER_PATTERN = r"^(#|(\+|[^#+/\x00]*)(/(\+|[^#+/\x00]*))*(/#)?)$"
# Serial devices only: a gateway mounts this path from the node, so never /dev/mem or ../.
SERIAL_DEVICE_PATTERN = r"^/dev/(tty[A-Za-z]+[0-9]+|serial/by-(id|path)/[A-Za-z0-9._:+-]+)$"


class SpecError(ValueError):
    """An invalid spec; ``path`` is the offending field, as the API server would name it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class _Cursor:
    """Reads typed values out of one mapping while remembering where it is, so that every
    error can name its field path without each caller building strings."""

    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise SpecError(path, f"must be an object, not {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def obj(self, key: str) -> _Cursor:
        return _Cursor(self.data.get(key), self.at(key))

    def items(self, key: str, *, min_items: int = 0) -> list[_Cursor]:
        raw = self.data.get(key) or []
        if not isinstance(raw, list):
            raise SpecError(self.at(key), "must be a list")
        if len(raw) < min_items:
            raise SpecError(self.at(key), f"must have at least {min_items} item(s)")
        return [_Cursor(item, f"{self.at(key)}[{i}]") for i, item in enumerate(raw)]

    def string(
        self,
        key: str,
        default: str | None = None,
        *,
        pattern: str | None = None,
        choices: tuple[str, ...] | None = None,
        max_len: int | None = None,
    ) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise SpecError(self.at(key), "is required")
        if not isinstance(value, str):
            raise SpecError(self.at(key), "must be a string")
        if choices is not None and value not in choices:
            raise SpecError(self.at(key), f"must be one of {', '.join(choices)}, not {value!r}")
        if max_len is not None and len(value) > max_len:
            raise SpecError(self.at(key), f"must be at most {max_len} characters")
        if pattern is not None and value and not re.match(pattern, value):
            raise SpecError(self.at(key), f"{value!r} does not match {pattern}")
        return value

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int:
        value = self.data.get(key, default)
        if value is None:
            raise SpecError(self.at(key), "is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(self.at(key), "must be an integer")
        if not lo <= value <= hi:
            raise SpecError(self.at(key), f"must be between {lo} and {hi}, not {value}")
        return int(value)

    def number(self, key: str, default: float | None = None) -> float | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(self.at(key), "must be a number")
        return float(value) if isinstance(value, float) else int(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise SpecError(self.at(key), "must be true or false")
        return value

    def duration(self, key: str, default: str) -> float:
        value = self.string(key, default)
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise SpecError(self.at(key), str(exc)) from None

    def str_map(self, key: str) -> dict[str, str]:
        raw = self.data.get(key) or {}
        if not isinstance(raw, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise SpecError(self.at(key), "must map strings to strings")
        return dict(raw)

    def num_map(self, key: str) -> dict[str, float]:
        raw = self.data.get(key) or {}
        if not isinstance(raw, Mapping):
            raise SpecError(self.at(key), "must be an object")
        for k, v in raw.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SpecError(f"{self.at(key)}.{k}", "must be a number")
        return dict(raw)


def _topic(cur: _Cursor, key: str) -> str:
    """A topic name override; Kafka also refuses the names ``.`` and ``..``."""
    name = cur.string(key, "", pattern=TOPIC_PATTERN, max_len=249)
    if name in (".", ".."):
        raise SpecError(cur.at(key), "Kafka refuses the topic names . and ..")
    return name


def _unique(cursors: list[_Cursor], key: str) -> None:
    """Duplicate names would give two children the same name; refuse them like the CRD does."""
    seen: set[str] = set()
    for cur in cursors:
        name = str(cur.data.get(key))
        if name in seen:
            raise SpecError(cur.path, f"duplicate {key} {name!r}")
        seen.add(name)


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str = ""


@dataclass(frozen=True)
class KafkaAuth:
    type: str
    secret: SecretRef
    tls: bool = False

    @property
    def security_protocol(self) -> str:
        """The Kafka client protocol of this setting, the one every component uses."""
        if self.type == "tls":
            return "SSL"
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    @property
    def sasl_mechanism(self) -> str:
        return "SCRAM-SHA-512" if self.type == "scram-sha-512" else ""


@dataclass(frozen=True)
class TopicDefaults:
    partitions: int = 3
    replicas: int = 1
    retention_seconds: float = 7 * 86400.0
    min_insync_replicas: int = 1
    allow_zero_retention: bool = False


@dataclass(frozen=True)
class KafkaSpec:
    bootstrap_servers: str
    cluster_ref: str = ""
    topic_backend: str = "strimzi"
    authentication: KafkaAuth | None = None
    topic_defaults: TopicDefaults = field(default_factory=TopicDefaults)
    dead_letter_topic: str = ""
    aggregates_topic: str = ""
    alerts_topic: str = ""
    delete_topics_with_pipeline: bool = False


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "number"
    unit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Stream:
    name: str
    fields: tuple[Field, ...]
    topic: str = ""
    partitions: int = 0


@dataclass(frozen=True)
class SerialSource:
    device: str
    baud_rate: int = 115200


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


@dataclass(frozen=True)
class Placement:
    """Where a component's pods may run: edge nodes with the devices for gateways, tainted
    nodes set aside for the pipeline's own consumers."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Gateway:
    name: str
    source: Source
    replicas: int = 1
    image: str = ""
    placement: Placement = Placement()
    resources: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SparkPod:
    cores: int = 1
    memory: str = "1g"
    instances: int = 1


@dataclass(frozen=True)
class Threshold:
    name: str
    stream: str
    field: str
    above: float | None = None
    below: float | None = None
    severity: str = "warning"


@dataclass(frozen=True)
class Anomaly:
    enabled: bool = True
    z_score: float = 3.5
    history: float = 3600.0
    min_samples: int = 20
    fields: tuple[str, ...] = ()  # empty: every numeric field


@dataclass(frozen=True)
class Jump:
    enabled: bool = False
    max_delta: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AfterRule:
    """The shape shared by the stuck-sensor and silent-device rules."""

    enabled: bool
    after: float


@dataclass(frozen=True)
class Alerts:
    thresholds: tuple[Threshold, ...] = ()
    anomaly: Anomaly = field(default_factory=Anomaly)
    jump: Jump = field(default_factory=Jump)
    stuck: AfterRule = field(default_factory=lambda: AfterRule(True, 600.0))
    silence: AfterRule = field(default_factory=lambda: AfterRule(True, 300.0))


@dataclass(frozen=True)
class Postgres:
    secret: SecretRef
    table: str = "sensor_aggregates"


@dataclass(frozen=True)
class Sinks:
    lake_format: str = "delta"
    lake_path: str = "/data/lake"
    postgres: Postgres | None = None
    aggregates_topic: bool = True


@dataclass(frozen=True)
class RestartPolicy:
    type: str = "Always"
    on_failure_retries: int = 3
    on_failure_retry_interval: int = 10
    on_submission_failure_retries: int = 5
    on_submission_failure_retry_interval: int = 20


@dataclass(frozen=True)
class Processing:
    image: str = ""
    spark_version: str = "4.2.0"
    trigger_interval: float = 10.0
    max_offsets_per_trigger: int | None = None
    window: float = 900.0
    watermark: float = 600.0
    driver: SparkPod = field(default_factory=SparkPod)
    executor: SparkPod = field(default_factory=lambda: SparkPod(memory="2g"))
    checkpoint_path: str = ""
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    alerts: Alerts = field(default_factory=Alerts)
    sinks: Sinks = field(default_factory=Sinks)


@dataclass(frozen=True)
class Consumer:
    name: str
    type: str = "alert-notifier"
    webhook_secret: SecretRef | None = None
    replicas: int = 1
    image: str = ""
    placement: Placement = Placement()


@dataclass(frozen=True)
class Scaling:
    enabled: bool = False
    target: str = "consumers"
    min_replicas: int = 1
    max_replicas: int = 6
    lag_threshold: int = 1000
    activation_lag: int = 100
    poll_interval: float = 10.0
    catch_up_time: float = 60.0
    scale_up_stabilization: float = 0.0
    scale_down_stabilization: float = 120.0
    cooldown: float = 30.0
    max_scale_down_step: int = 1


@dataclass(frozen=True)
class Pipeline:
    """One parsed SensorPipeline: what every builder reads."""

    name: str
    namespace: str
    kafka: KafkaSpec
    streams: tuple[Stream, ...]
    gateways: tuple[Gateway, ...] = ()
    processing: Processing = field(default_factory=Processing)
    consumers: tuple[Consumer, ...] = ()
    scaling: Scaling = field(default_factory=Scaling)

    def stream_topic(self, stream: Stream) -> str:
        return stream.topic or naming.stream_topic(self.name, stream.name)

    def stream_partitions(self, stream: Stream) -> int:
        return stream.partitions or self.kafka.topic_defaults.partitions

    @property
    def dead_letter_topic(self) -> str:
        return self.kafka.dead_letter_topic or naming.dead_letter_topic(self.name)

    @property
    def aggregates_topic(self) -> str:
        return self.kafka.aggregates_topic or naming.aggregates_topic(self.name)

    @property
    def alerts_topic(self) -> str:
        return self.kafka.alerts_topic or naming.alerts_topic(self.name)

    @property
    def checkpoint_path(self) -> str:
        return self.processing.checkpoint_path or naming.checkpoint_path(self.namespace, self.name)

    def consumer_group(self, consumer: Consumer) -> str:
        return naming.consumer_group(self.name, consumer.name)

    def source_group(self, gateway: Gateway) -> str:
        """The consumer group of a gateway's Kafka source (never a consumer's: those names
        have no dot)."""
        kafka = gateway.source.kafka
        return (
            kafka.group
            if kafka is not None and kafka.group
            else naming.gateway_source_group(self.name, gateway.name)
        )


# ---------------------------------------------------------------------------------- parsing


def parse(spec: Mapping[str, Any] | None, name: str, namespace: str) -> Pipeline:
    """The model of ``spec`` for the pipeline ``namespace/name``; raises SpecError."""
    if not re.match(NAME_PATTERN, name) or len(name) > PIPELINE_NAME_MAX:
        raise SpecError(
            "metadata.name",
            f"must be a lowercase DNS label of at most {PIPELINE_NAME_MAX} characters",
        )
    root = _Cursor(spec, "spec")
    streams = _streams(root)
    pipeline = Pipeline(
        name=name,
        namespace=namespace,
        kafka=_kafka(root.obj("kafka")),
        streams=streams,
        gateways=_gateways(root, streams),
        processing=_processing(root.obj("processing"), streams),
        consumers=_consumers(root),
        scaling=_scaling(root.obj("scaling")),
    )
    if (
        pipeline.scaling.enabled
        and pipeline.scaling.target == "consumers"
        and not pipeline.consumers
    ):
        raise SpecError("spec.scaling.target", "is consumers but spec.consumers is empty")
    _distinct_topics(pipeline)
    _foreign_topics(pipeline)
    return pipeline


def _distinct_topics(pipeline: Pipeline) -> None:
    """Two topics of one pipeline must not resolve to one Kafka name: the topic backends would
    make (or fight over) one topic for two purposes. Kafka also refuses names that differ only
    by ``.`` against ``_`` (its metric names would collide), so those count as one."""
    seen: dict[str, tuple[str, str]] = {}
    named = [(pipeline.stream_topic(s), "spec.streams") for s in pipeline.streams]
    named += [
        (pipeline.dead_letter_topic, "spec.kafka.topics"),
        (pipeline.aggregates_topic, "spec.kafka.topics"),
        (pipeline.alerts_topic, "spec.kafka.topics"),
    ]
    for topic, path in named:
        key = topic.replace(".", "_")
        if key in seen:
            other, other_path = seen[key]
            where = "spec.streams" if "spec.streams" in (path, other_path) else path
            raise SpecError(
                where, f"topics {other!r} and {topic!r} are one Kafka topic; give each its own name"
            )
        seen[key] = (topic, path)


def _foreign_topics(pipeline: Pipeline) -> None:
    """A Kafka source reads a foreign producer's topic: one of the pipeline's own topics would
    feed the gateway its own readings or dead letters, forever."""
    own = {pipeline.stream_topic(s) for s in pipeline.streams}
    own |= {pipeline.dead_letter_topic, pipeline.aggregates_topic, pipeline.alerts_topic}
    for i, gateway in enumerate(pipeline.gateways):
        kafka = gateway.source.kafka
        if kafka is not None and kafka.topic in own:
            raise SpecError(
                f"spec.gateways[{i}].source.kafka.topic",
                f"{kafka.topic!r} is a topic of the pipeline itself; name the producer's topic",
            )


def _secret_ref(cur: _Cursor, default_key: str = "") -> SecretRef:
    return SecretRef(
        name=cur.string("name", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
        key=cur.string("key", default_key) if default_key else "",
    )


def _kafka(cur: _Cursor) -> KafkaSpec:
    backend = cur.string("topicBackend", "strimzi", choices=TOPIC_BACKENDS)
    cluster_ref = cur.string("clusterRef", "", pattern=NAME_PATTERN)
    if backend == "strimzi" and not cluster_ref:
        raise SpecError(cur.at("clusterRef"), "is required when topicBackend is strimzi")
    auth = None
    if cur.has("authentication"):
        acur = cur.obj("authentication")
        auth_type = acur.string("type", choices=AUTH_TYPES)
        tls = acur.boolean("tls", auth_type == "tls")
        if auth_type == "tls" and not tls:
            raise SpecError(acur.at("tls"), "mutual TLS (type tls) always uses TLS")
        auth = KafkaAuth(type=auth_type, secret=_secret_ref(acur.obj("secretRef")), tls=tls)
    dcur = cur.obj("topicDefaults")
    defaults = TopicDefaults(
        partitions=dcur.integer("partitions", 3, 1, 1000),
        replicas=dcur.integer("replicas", 1, 1, 10),
        retention_seconds=dcur.duration("retention", "7d"),
        min_insync_replicas=dcur.integer("minInSyncReplicas", 1, 1, 10),
        allow_zero_retention=dcur.boolean("allowZeroRetention", False),
    )
    if defaults.min_insync_replicas > defaults.replicas:
        raise SpecError(dcur.at("minInSyncReplicas"), "must not exceed replicas")
    if round(defaults.retention_seconds * 1000) == 0 and not defaults.allow_zero_retention:
        raise SpecError(
            dcur.at("retention"),
            "under 1ms makes topics that keep nothing; set allowZeroRetention if that is meant",
        )
    tcur = cur.obj("topics")
    return KafkaSpec(
        bootstrap_servers=cur.string(
            "bootstrapServers", pattern=r"^[^,\s]+:[0-9]+(,[^,\s]+:[0-9]+)*$"
        ),
        cluster_ref=cluster_ref,
        topic_backend=backend,
        authentication=auth,
        topic_defaults=defaults,
        dead_letter_topic=_topic(tcur, "deadLetter"),
        aggregates_topic=_topic(tcur, "aggregates"),
        alerts_topic=_topic(tcur, "alerts"),
        delete_topics_with_pipeline=cur.boolean("deleteTopicsWithPipeline", False),
    )


def _fields(scur: _Cursor) -> tuple[Field, ...]:
    fcurs = scur.items("fields", min_items=1)
    _unique(fcurs, "name")
    fields = []
    for fcur in fcurs:
        ftype = fcur.string("type", "number", choices=FIELD_TYPES)
        lo, hi = fcur.number("min"), fcur.number("max")
        if ftype == "boolean" and (lo is not None or hi is not None):
            raise SpecError(fcur.at("min" if lo is not None else "max"), "is only for numbers")
        if lo is not None and hi is not None and lo > hi:
            raise SpecError(fcur.at("min"), f"{lo} is above max {hi}")
        fields.append(
            Field(
                name=fcur.string("name", pattern=FIELD_NAME_PATTERN, max_len=63),
                type=ftype,
                unit=fcur.string("unit", "", max_len=16),
                min=lo,
                max=hi,
            )
        )
    return tuple(fields)


def _streams(root: _Cursor) -> tuple[Stream, ...]:
    scurs = root.items("streams", min_items=1)
    _unique(scurs, "name")
    return tuple(
        Stream(
            name=scur.string("name", pattern=NAME_PATTERN, max_len=CHILD_NAME_MAX),
            topic=_topic(scur, "topic"),
            partitions=scur.integer("partitions", 0, 0, 1000),
            fields=_fields(scur),
        )
        for scur in scurs
    )


def _member(cur: _Cursor, key: str, default: str | None = None) -> str:
    """A JSON member path; empty only where that means "none" (an optional member)."""
    value = cur.string(key, default, pattern=MEMBER_PATTERN, max_len=128)
    if not value and default != "":
        raise SpecError(cur.at(key), "must not be empty")
    return value


def _payload(cur: _Cursor, streams: tuple[Stream, ...]) -> PayloadMapping:
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


def _source(cur: _Cursor, streams: tuple[Stream, ...]) -> Source:
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
                topic=_topic(block, "topic") or block.string("topic", None),
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
                credentials=_secret_ref(creds) if creds else None,
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


def _baud(block: _Cursor) -> int:
    baud = block.integer("baudRate", 115200, 300, 921600)
    if baud not in BAUD_RATES:
        raise SpecError(block.at("baudRate"), f"must be a standard rate ({BAUD_RATES})")
    return baud


def _resources(cur: _Cursor) -> dict[str, dict[str, str]]:
    out = {}
    for section in ("requests", "limits"):
        raw = cur.obj(section).data
        if raw:
            out[section] = {k: str(v) for k, v in raw.items()}
    return out


def _gateways(root: _Cursor, streams: tuple[Stream, ...]) -> tuple[Gateway, ...]:
    gcurs = root.items("gateways")
    _unique(gcurs, "name")
    gateways = []
    for gcur in gcurs:
        source = _source(gcur.obj("source"), streams)
        replicas = gcur.integer("replicas", 1, 0, 100)
        if source.type == "serial" and replicas > 1:
            raise SpecError(gcur.at("replicas"), "must be 0 or 1 for a serial source")
        gateways.append(
            Gateway(
                name=gcur.string("name", pattern=NAME_PATTERN, max_len=CHILD_NAME_MAX),
                source=source,
                replicas=replicas,
                image=gcur.string("image", ""),
                placement=_placement(gcur),
                resources=_resources(gcur.obj("resources")),
            )
        )
    return tuple(gateways)


def _spark_pod(cur: _Cursor, memory: str, with_instances: bool) -> SparkPod:
    return SparkPod(
        cores=cur.integer("cores", 1, 1, 64),
        memory=cur.string("memory", memory, pattern=r"^[0-9]+[kmgt]?$"),
        instances=cur.integer("instances", 1, 1, 1000) if with_instances else 1,
    )


def _alerts(cur: _Cursor, streams: tuple[Stream, ...]) -> Alerts:
    tcurs = cur.items("thresholds")
    _unique(tcurs, "name")
    by_name = {s.name: s for s in streams}
    thresholds = []
    for tcur in tcurs:
        rule = Threshold(
            name=tcur.string("name", pattern=NAME_PATTERN, max_len=63),
            stream=tcur.string("stream"),
            field=tcur.string("field"),
            above=tcur.number("above"),
            below=tcur.number("below"),
            severity=tcur.string("severity", "warning", choices=SEVERITIES),
        )
        if rule.stream not in by_name:
            raise SpecError(tcur.at("stream"), f"names no stream in spec.streams: {rule.stream!r}")
        if rule.field not in {f.name for f in by_name[rule.stream].fields}:
            raise SpecError(tcur.at("field"), f"is no field of stream {rule.stream!r}")
        if rule.above is None and rule.below is None:
            raise SpecError(tcur.path, "needs above, below or both")
        _reachable(rule, by_name[rule.stream], tcur.at("above"), tcur.at("below"))
        thresholds.append(rule)
    acur, jcur = cur.obj("anomaly"), cur.obj("jump")
    return Alerts(
        thresholds=tuple(thresholds),
        anomaly=Anomaly(
            enabled=acur.boolean("enabled", True),
            z_score=_positive(acur, "zScore", 3.5),
            history=acur.duration("history", "1h"),
            min_samples=acur.integer("minSamples", 20, 2, 1_000_000),
            fields=_anomaly_fields(acur, streams),
        ),
        jump=Jump(enabled=jcur.boolean("enabled", False), max_delta=jcur.num_map("maxDelta")),
        stuck=_after(cur.obj("stuck"), "10m"),
        silence=_after(cur.obj("silence"), "5m"),
    )


def _reachable(rule: Threshold, stream: Stream, above_at: str, below_at: str) -> None:
    """Readings outside a field's [min, max] are dead-lettered before alerting, so a threshold
    at or beyond the range could never fire."""
    fld = next(f for f in stream.fields if f.name == rule.field)
    if rule.above is not None and fld.max is not None and rule.above >= fld.max:
        raise SpecError(above_at, f"{rule.above} can never fire: {rule.field}'s max is {fld.max}")
    if rule.below is not None and fld.min is not None and rule.below <= fld.min:
        raise SpecError(below_at, f"{rule.below} can never fire: {rule.field}'s min is {fld.min}")


def _anomaly_fields(cur: _Cursor, streams: tuple[Stream, ...]) -> tuple[str, ...]:
    raw = cur.data.get("fields") or []
    if not isinstance(raw, list):
        raise SpecError(cur.at("fields"), "must be a list")
    known = {f.name for s in streams for f in s.fields}
    for i, name in enumerate(raw):
        if name not in known:
            raise SpecError(f"{cur.at('fields')}[{i}]", f"is no field of any stream: {name!r}")
    return tuple(str(n) for n in raw)


def _positive(cur: _Cursor, key: str, default: float) -> float:
    value = cur.number(key, default)
    if value is None or value <= 0:
        raise SpecError(cur.at(key), "must be above zero")
    return value


def _after(cur: _Cursor, default: str) -> AfterRule:
    after = cur.duration("after", default)
    if after <= 0:
        raise SpecError(cur.at("after"), "must be above zero")
    return AfterRule(enabled=cur.boolean("enabled", True), after=after)


def _processing(cur: _Cursor, streams: tuple[Stream, ...]) -> Processing:
    trigger = cur.duration("triggerInterval", "10s")
    window = cur.duration("window", "15m")
    watermark = cur.duration("watermark", "10m")
    if trigger <= 0:
        raise SpecError(cur.at("triggerInterval"), "must be above zero")
    if window < trigger:
        raise SpecError(cur.at("window"), "must not be shorter than triggerInterval")
    if watermark > MAX_WATERMARK_SECONDS:
        raise SpecError(cur.at("watermark"), "must not exceed 24h")
    rcur, scur = cur.obj("restartPolicy"), cur.obj("sinks")
    pcur = scur.obj("postgres") if scur.has("postgres") else None
    lake = scur.obj("lake")
    return Processing(
        image=cur.string("image", ""),
        spark_version=cur.string("sparkVersion", "4.2.0", pattern=SPARK_VERSION_PATTERN),
        trigger_interval=trigger,
        max_offsets_per_trigger=(
            cur.integer("maxOffsetsPerTrigger", None, 1, 100_000_000)
            if cur.has("maxOffsetsPerTrigger")
            else None
        ),
        window=window,
        watermark=watermark,
        driver=_spark_pod(cur.obj("driver"), "1g", with_instances=False),
        executor=_spark_pod(cur.obj("executor"), "2g", with_instances=True),
        checkpoint_path=cur.string("checkpointPath", "", pattern=r"^(/|[a-z0-9]+://)\S*$"),
        restart_policy=RestartPolicy(
            type=rcur.string("type", "Always", choices=RESTART_TYPES),
            on_failure_retries=rcur.integer("onFailureRetries", 3, 0, 1000),
            on_failure_retry_interval=rcur.integer("onFailureRetryInterval", 10, 1, 3600),
            on_submission_failure_retries=rcur.integer("onSubmissionFailureRetries", 5, 0, 1000),
            on_submission_failure_retry_interval=rcur.integer(
                "onSubmissionFailureRetryInterval", 20, 1, 3600
            ),
        ),
        alerts=_alerts(cur.obj("alerts"), streams),
        sinks=Sinks(
            lake_format=lake.string("format", "delta", choices=LAKE_FORMATS),
            lake_path=lake.string("path", "/data/lake", pattern=r"^(/|[a-z0-9]+://)\S*$"),
            postgres=Postgres(
                secret=_secret_ref(pcur.obj("secretRef"), default_key="dsn"),
                table=pcur.string("table", "sensor_aggregates", pattern=r"^[a-z_][a-z0-9_]*$"),
            )
            if pcur
            else None,
            aggregates_topic=scur.boolean("aggregatesTopic", True),
        ),
    )


def _consumers(root: _Cursor) -> tuple[Consumer, ...]:
    ccurs = root.items("consumers")
    _unique(ccurs, "name")
    return tuple(_consumer(ccur) for ccur in ccurs)


def _consumer(ccur: _Cursor) -> Consumer:
    if ccur.string("webhookUrl", ""):
        raise SpecError(
            ccur.at("webhookUrl"),
            "an inline webhookUrl is refused: a webhook URL carries its credentials; "
            "put it in a Secret and name it in webhookSecretRef",
        )
    secret = None
    if ccur.has("webhookSecretRef"):
        secret = _secret_ref(ccur.obj("webhookSecretRef"), default_key="url")
    return Consumer(
        name=ccur.string("name", pattern=NAME_PATTERN, max_len=CHILD_NAME_MAX),
        type=ccur.string("type", "alert-notifier", choices=CONSUMER_TYPES),
        webhook_secret=secret,
        replicas=ccur.integer("replicas", 1, 0, 100),
        image=ccur.string("image", ""),
        placement=_placement(ccur),
    )


def _placement(cur: _Cursor) -> Placement:
    tolerations = cur.data.get("tolerations") or []
    if not isinstance(tolerations, list) or not all(isinstance(t, Mapping) for t in tolerations):
        raise SpecError(cur.at("tolerations"), "must be a list of objects")
    return Placement(
        node_selector=cur.str_map("nodeSelector"), tolerations=tuple(map(dict, tolerations))
    )


def _scaling(cur: _Cursor) -> Scaling:
    scaling = Scaling(
        enabled=cur.boolean("enabled", False),
        target=cur.string("target", "consumers", choices=SCALING_TARGETS),
        min_replicas=cur.integer("minReplicas", 1, 0, 1000),
        max_replicas=cur.integer("maxReplicas", 6, 1, 1000),
        lag_threshold=cur.integer("lagThreshold", 1000, 1, 2**31 - 1),
        activation_lag=cur.integer("activationLag", 100, 0, 2**31 - 1),
        poll_interval=cur.duration("pollInterval", "10s"),
        catch_up_time=cur.duration("catchUpTime", "60s"),
        scale_up_stabilization=cur.duration("scaleUpStabilization", "0s"),
        scale_down_stabilization=cur.duration("scaleDownStabilization", "120s"),
        cooldown=cur.duration("cooldown", "30s"),
        max_scale_down_step=cur.integer("maxScaleDownStep", 1, 1, 1000),
    )
    if scaling.min_replicas > scaling.max_replicas:
        raise SpecError(cur.at("minReplicas"), "must not exceed maxReplicas")
    if scaling.poll_interval <= 0:
        raise SpecError(cur.at("pollInterval"), "must be above zero")
    return scaling
