"""The one reader of the runtime config document, which the gateway, the notifier and the
Spark jobs share.

The document's authority is ``runtime-config.schema.json`` beside this module (see
:func:`schema`); the operator renders every key it names. This reader checks the
``version`` first and refuses one it does not know, then reads the parts a reader acts on
into typed values. Names (topics, groups, the checkpoint path) come only from the document:
nothing here derives one again. Where a hand-written document may leave a processing setting
out, the default is the schema's ``default``, which the contract tests hold equal to the
operator's and to the dataclass defaults below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sensorpipe_contract.fields import FIELD_TYPES, FieldSpec

VERSION = 1  # what the operator renders
KNOWN_VERSIONS = (VERSION,)
SCHEMA_FILE = "runtime-config.schema.json"
LAKE_FORMATS = ("delta", "parquet")


class ContractError(ValueError):
    """The document is not one this reader can act on: the message says where and why."""


def schema() -> dict[str, Any]:
    """The JSON Schema of the document (package data, so it ships in every image)."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@dataclass(frozen=True)
class StreamSpec:
    """A measurement stream: its name, its topic and its fields."""

    name: str
    topic: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class ThresholdRule:
    """A static rule: a field above and/or below a bound is an alert."""

    name: str
    stream: str
    field: str
    above: float | None
    below: float | None
    severity: str


@dataclass(frozen=True)
class AlertSpec:
    """The alert and anomaly settings of ``processing.alerts``, durations in seconds."""

    thresholds: tuple[ThresholdRule, ...] = ()
    anomaly_enabled: bool = True
    z_score: float = 3.5
    history: float = 3600.0
    min_samples: int = 20
    anomaly_fields: frozenset[str] = frozenset()  # empty: every numeric field
    jump_enabled: bool = False
    max_delta: Mapping[str, float] = field(default_factory=dict)
    stuck_enabled: bool = True
    stuck_after: float = 600.0
    silence_enabled: bool = True
    silence_after: float = 300.0


@dataclass(frozen=True)
class PostgresSink:
    """Where aggregates are upserted; the DSN itself lives in an environment variable."""

    dsn_env: str
    table: str


@dataclass(frozen=True)
class Processing:
    """The parts of ``processing`` the Spark jobs act on."""

    checkpoint_path: str
    trigger_interval: float = 10.0
    max_offsets_per_trigger: int | None = None
    window: float = 900.0
    watermark: float = 600.0
    alerts: AlertSpec = field(default_factory=AlertSpec)
    lake_format: str = "delta"
    lake_path: str = "/data/lake"
    postgres: PostgresSink | None = None
    aggregates_topic: bool = True


@dataclass(frozen=True)
class Consumer:
    """One entry of ``consumers``: what a consumer Deployment reads, and as which group."""

    name: str
    type: str
    group: str
    topic: str
    webhook_env: str


@dataclass(frozen=True)
class Gateway:
    name: str
    source: Mapping[str, Any]


@dataclass(frozen=True)
class Document:
    """The document, typed. ``gateway`` is there in a gateway's document only; ``processing``
    and ``consumers`` in what the operator renders, perhaps not in a hand-written one."""

    version: int
    pipeline: str
    namespace: str
    bootstrap_servers: str
    authentication: Mapping[str, Any] | None
    streams: tuple[StreamSpec, ...]
    dead_letter_topic: str
    aggregates_topic: str
    alerts_topic: str
    gateway: Gateway | None
    processing: Processing | None
    consumers: tuple[Consumer, ...]

    def consumer(self, name: str) -> Consumer:
        """The consumer called ``name``; a reader that is not in the document refuses to run."""
        for c in self.consumers:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self.consumers) or "none"
        raise ContractError(f"consumers has no entry {name!r} (it has: {known})")


def check_version(doc: Mapping[str, Any]) -> int:
    """The document's version, if this reader knows it; otherwise a ContractError that names
    the version found and the ones known."""
    version = doc.get("version")
    if isinstance(version, bool) or version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in KNOWN_VERSIONS)
        raise ContractError(
            f"runtime config document version {version!r} is not one this reader knows "
            f"(known: {known}); the operator and this image are of different releases"
        )
    return int(version)


def read(doc: Mapping[str, Any]) -> Document:
    """The typed document, or a ContractError naming the first key that is missing or of the
    wrong type."""
    version = check_version(doc)
    pipeline = _get(doc, "pipeline", dict)
    kafka = _get(doc, "kafka", dict)
    topics = _get(doc, "topics", dict)
    name = _get(pipeline, "name", str, "pipeline")
    stream_topics = _get(topics, "streams", dict, "topics")
    gateway = doc.get("gateway")
    processing = doc.get("processing")
    return Document(
        version=version,
        pipeline=name,
        namespace=_get(pipeline, "namespace", str, "pipeline"),
        bootstrap_servers=_get(kafka, "bootstrapServers", str, "kafka"),
        authentication=_opt(kafka, "authentication", dict, "kafka"),
        streams=tuple(
            _stream(s, stream_topics, f"streams[{i}]")
            for i, s in enumerate(_get(doc, "streams", list))
        ),
        dead_letter_topic=_get(topics, "deadLetter", str, "topics"),
        aggregates_topic=_get(topics, "aggregates", str, "topics"),
        alerts_topic=_get(topics, "alerts", str, "topics"),
        gateway=(
            Gateway(_get(gateway, "name", str, "gateway"), _get(gateway, "source", dict, "gateway"))
            if gateway is not None
            else None
        ),
        processing=_processing(processing) if processing is not None else None,
        consumers=tuple(
            Consumer(
                name=_get(c, "name", str, at),
                type=_get(c, "type", str, at),
                group=_get(c, "group", str, at),
                topic=_get(c, "topic", str, at),
                webhook_env=_get(c, "webhookEnv", str, at),
            )
            for i, c in enumerate(doc.get("consumers") or [])
            for at in [f"consumers[{i}]"]
        ),
    )


def load(path: str | Path) -> Document:
    """Read the document at ``path``."""
    return read(json.loads(Path(path).read_text()))


# ------------------------------------------------------------------------------------- parts


def _stream(doc: Any, topics: Mapping[str, Any], at: str) -> StreamSpec:
    name = _get(doc, "name", str, at)
    topic = topics.get(name)
    if not isinstance(topic, str):
        raise ContractError(f"topics.streams has no topic for the stream {name!r}")
    return StreamSpec(
        name=name,
        topic=topic,
        fields=tuple(
            _field(f, f"{at}.fields[{i}]") for i, f in enumerate(_get(doc, "fields", list, at))
        ),
    )


def _field(doc: Any, at: str) -> FieldSpec:
    kind = _opt(doc, "type", str, at) or FIELD_TYPES[0]
    if kind not in FIELD_TYPES:
        raise ContractError(f"{at}.type is {kind!r}, not one of {', '.join(FIELD_TYPES)}")
    return FieldSpec(
        name=_get(doc, "name", str, at),
        type=kind,
        unit=_opt(doc, "unit", str, at) or "",
        # Bounds stay as written: a value is compared with the number itself, not a double.
        min=_number(doc, "min", at),
        max=_number(doc, "max", at),
    )


def _processing(doc: Any) -> Processing:
    at = "processing"
    sinks = _opt(doc, "sinks", dict, at) or {}
    lake = _opt(sinks, "lake", dict, f"{at}.sinks") or {}
    pg = _opt(sinks, "postgres", dict, f"{at}.sinks")
    defaults = Processing(checkpoint_path="")
    lake_format = _opt(lake, "format", str, f"{at}.sinks.lake") or defaults.lake_format
    if lake_format not in LAKE_FORMATS:
        raise ContractError(f"lake format {lake_format!r} is not one of {', '.join(LAKE_FORMATS)}")
    count = _opt(doc, "maxOffsetsPerTrigger", int, at)
    if count is not None and count < 1:
        raise ContractError(f"{at}.maxOffsetsPerTrigger is {count}, not a positive integer")
    return Processing(
        checkpoint_path=_get(doc, "checkpointPath", str, at),
        trigger_interval=_num(doc, "triggerInterval", at, defaults.trigger_interval),
        max_offsets_per_trigger=count,
        window=_num(doc, "window", at, defaults.window),
        watermark=_num(doc, "watermark", at, defaults.watermark),
        alerts=_alerts(_opt(doc, "alerts", dict, at) or {}),
        lake_format=lake_format,
        lake_path=_opt(lake, "path", str, f"{at}.sinks.lake") or defaults.lake_path,
        postgres=(
            PostgresSink(
                _get(pg, "dsnEnv", str, f"{at}.sinks.postgres"),
                _get(pg, "table", str, f"{at}.sinks.postgres"),
            )
            if pg is not None
            else None
        ),
        aggregates_topic=_flag(sinks, "aggregatesTopic", f"{at}.sinks", defaults.aggregates_topic),
    )


def _alerts(doc: Mapping[str, Any]) -> AlertSpec:
    at = "processing.alerts"
    d = AlertSpec()
    anomaly = _opt(doc, "anomaly", dict, at) or {}
    jump = _opt(doc, "jump", dict, at) or {}
    stuck = _opt(doc, "stuck", dict, at) or {}
    silence = _opt(doc, "silence", dict, at) or {}
    deltas = _opt(jump, "maxDelta", dict, f"{at}.jump") or {}
    return AlertSpec(
        thresholds=tuple(
            ThresholdRule(
                name=_get(r, "name", str, f"{at}.thresholds[{i}]"),
                stream=_get(r, "stream", str, f"{at}.thresholds[{i}]"),
                field=_get(r, "field", str, f"{at}.thresholds[{i}]"),
                above=_num(r, "above", f"{at}.thresholds[{i}]"),
                below=_num(r, "below", f"{at}.thresholds[{i}]"),
                severity=_get(r, "severity", str, f"{at}.thresholds[{i}]"),
            )
            for i, r in enumerate(_opt(doc, "thresholds", list, at) or [])
        ),
        anomaly_enabled=_flag(anomaly, "enabled", f"{at}.anomaly", d.anomaly_enabled),
        z_score=_num(anomaly, "zScore", f"{at}.anomaly", d.z_score),
        history=_num(anomaly, "history", f"{at}.anomaly", d.history),
        min_samples=_opt(anomaly, "minSamples", int, f"{at}.anomaly") or d.min_samples,
        anomaly_fields=frozenset(_opt(anomaly, "fields", list, f"{at}.anomaly") or ()),
        jump_enabled=_flag(jump, "enabled", f"{at}.jump", d.jump_enabled),
        max_delta={str(k): _num(deltas, k, f"{at}.jump.maxDelta", 0.0) for k in deltas},
        stuck_enabled=_flag(stuck, "enabled", f"{at}.stuck", d.stuck_enabled),
        stuck_after=_num(stuck, "after", f"{at}.stuck", d.stuck_after),
        silence_enabled=_flag(silence, "enabled", f"{at}.silence", d.silence_enabled),
        silence_after=_num(silence, "after", f"{at}.silence", d.silence_after),
    )


# ------------------------------------------------------------------------- typed access


def _where(at: str, key: str) -> str:
    return f"{at}.{key}" if at else key


def _get(doc: Any, key: str, kind: type, at: str = "") -> Any:
    """``doc[key]``, which must be there and of ``kind``."""
    if not isinstance(doc, Mapping):
        raise ContractError(f"{at or 'the document'} is not an object")
    if key not in doc:
        raise ContractError(f"{_where(at, key)} is missing")
    return _typed(doc[key], kind, _where(at, key))


def _opt(doc: Mapping[str, Any], key: str, kind: type, at: str) -> Any:
    """``doc[key]`` of ``kind``, or None when absent or null."""
    value = doc.get(key)
    return None if value is None else _typed(value, kind, _where(at, key))


def _typed(value: Any, kind: type, where: str) -> Any:
    # JSON's true is not a number here, as in JSON Schema.
    if isinstance(value, bool) and kind is not bool:
        raise ContractError(f"{where} is a boolean, not {kind.__name__}")
    if not isinstance(value, kind):
        raise ContractError(f"{where} is {type(value).__name__}, not {kind.__name__}")
    return value


def _number(doc: Mapping[str, Any], key: str, at: str) -> int | float | None:
    """A JSON number (integer or not) as written, or None when absent or null."""
    value = doc.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ContractError(f"{_where(at, key)} is {type(value).__name__}, not a number")
    return value


def _num(doc: Mapping[str, Any], key: str, at: str, default: float | None = None) -> Any:
    """A JSON number (integer or not) as a float; ``default`` when absent or null."""
    value = _number(doc, key, at)
    return default if value is None else float(value)


def _flag(doc: Mapping[str, Any], key: str, at: str, default: bool) -> bool:
    value = doc.get(key)
    return default if value is None else bool(_typed(value, bool, _where(at, key)))
