"""The Spark jobs' view of the runtime config document (docs/contracts.md §2).

The operator renders one JSON document from the `SensorPipeline` spec; the jobs read nothing
else, so that a change of behaviour is a change of the spec, never of the code. Only local
paths and endpoints (lake, checkpoints, Kafka bootstrap, PostgreSQL DSN variable) may be
overridden, because those differ between a pod and a developer's machine while the
processing rules must not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_CHECKPOINT_ROOT = "/data/checkpoints"
DEFAULT_LAKE_PATH = "/data/lake"
LAKE_FORMATS = ("delta", "parquet")


class ConfigError(ValueError):
    """The config document is missing something the jobs cannot guess."""


@dataclass(frozen=True)
class FieldSpec:
    """One measured field of a stream, with its valid range when numeric."""

    name: str
    type: str  # "number" | "boolean"
    unit: str = ""
    min: float | None = None
    max: float | None = None

    @property
    def is_boolean(self) -> bool:
        """Booleans are stored as 0/1 and are never range-checked, jump- or stuck-tested."""
        return self.type == "boolean"


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
    """The alert and anomaly settings of `processing.alerts`, durations in seconds."""

    thresholds: tuple[ThresholdRule, ...] = ()
    anomaly_enabled: bool = True
    z_score: float = 3.5
    history: float = 3600.0
    min_samples: int = 20
    anomaly_fields: frozenset[str] = frozenset()  # empty: every numeric field
    jump_enabled: bool = True
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
class JobConfig:
    """Everything the streaming and batch jobs need, resolved from the config document."""

    pipeline: str
    namespace: str
    bootstrap_servers: str
    authentication: Mapping[str, Any] | None
    streams: tuple[StreamSpec, ...]
    dead_letter_topic: str
    aggregates_topic: str | None
    alerts_topic: str
    trigger_interval: float
    window: float
    watermark: float
    alerts: AlertSpec
    lake_path: str
    checkpoint_path: str
    postgres: PostgresSink | None
    lake_format: str = "delta"
    max_offsets_per_trigger: int | None = None

    def stream(self, name: str) -> StreamSpec | None:
        """The stream called ``name``, or None when the spec has no such stream."""
        return next((s for s in self.streams if s.name == name), None)

    @property
    def readings_path(self) -> str:
        """The lake table of valid readings."""
        return f"{self.lake_path.rstrip('/')}/readings"

    @property
    def aggregates_path(self) -> str:
        """The lake table of windowed aggregates."""
        return f"{self.lake_path.rstrip('/')}/aggregates"

    def checkpoint(self, query: str) -> str:
        """One checkpoint folder per query, so each resumes on its own after a restart."""
        return f"{self.checkpoint_path.rstrip('/')}/{query}"

    def with_overrides(
        self,
        lake_path: str | None = None,
        checkpoint_path: str | None = None,
        bootstrap_servers: str | None = None,
        pg_dsn_env: str | None = None,
    ) -> JobConfig:
        """A copy with local paths and endpoints replaced; processing rules stay as given."""
        cfg = self
        if lake_path:
            cfg = replace(cfg, lake_path=lake_path)
        if checkpoint_path:
            cfg = replace(cfg, checkpoint_path=checkpoint_path)
        if bootstrap_servers:
            cfg = replace(cfg, bootstrap_servers=bootstrap_servers)
        if pg_dsn_env and cfg.postgres is not None:
            cfg = replace(cfg, postgres=replace(cfg.postgres, dsn_env=pg_dsn_env))
        return cfg


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _field(doc: Mapping[str, Any]) -> FieldSpec:
    return FieldSpec(
        name=str(doc["name"]),
        type=str(doc.get("type", "number")),
        unit=str(doc.get("unit", "")),
        min=_num(doc.get("min")),
        max=_num(doc.get("max")),
    )


def _alerts(doc: Mapping[str, Any]) -> AlertSpec:
    anomaly = doc.get("anomaly") or {}
    jump = doc.get("jump") or {}
    stuck = doc.get("stuck") or {}
    silence = doc.get("silence") or {}
    defaults = AlertSpec()
    rules = tuple(
        ThresholdRule(
            name=str(r.get("name") or f"{r['stream']}-{r['field']}"),
            stream=str(r["stream"]),
            field=str(r["field"]),
            above=_num(r.get("above")),
            below=_num(r.get("below")),
            severity=str(r.get("severity", "warning")),
        )
        for r in doc.get("thresholds") or []
    )
    return AlertSpec(
        thresholds=rules,
        anomaly_enabled=bool(anomaly.get("enabled", defaults.anomaly_enabled)),
        z_score=float(anomaly.get("zScore", defaults.z_score)),
        history=float(anomaly.get("history", defaults.history)),
        min_samples=int(anomaly.get("minSamples", defaults.min_samples)),
        anomaly_fields=frozenset(str(f) for f in anomaly.get("fields") or ()),
        jump_enabled=bool(jump.get("enabled", defaults.jump_enabled)),
        max_delta={str(k): float(v) for k, v in (jump.get("maxDelta") or {}).items()},
        stuck_enabled=bool(stuck.get("enabled", defaults.stuck_enabled)),
        stuck_after=float(stuck.get("after", defaults.stuck_after)),
        silence_enabled=bool(silence.get("enabled", defaults.silence_enabled)),
        silence_after=float(silence.get("after", defaults.silence_after)),
    )


def _positive(value: Any) -> int | None:
    """A count the document may leave out (null or absent); a present one must be >= 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"expected a positive integer, got {value!r}")
    return int(value)


def from_document(doc: Mapping[str, Any]) -> JobConfig:
    """Resolve the config document into a :class:`JobConfig`.

    Topic names and defaults come from the document as the operator rendered them; the
    fall-backs here follow the naming of docs/contracts.md §2 so that a hand-written
    document still works.
    """
    try:
        pipeline = str(doc["pipeline"]["name"])
    except (KeyError, TypeError) as exc:
        raise ConfigError("config document has no pipeline.name") from exc
    namespace = str(doc["pipeline"].get("namespace", "default"))
    topics = doc.get("topics") or {}
    stream_topics = topics.get("streams") or {}
    streams = tuple(
        StreamSpec(
            name=str(s["name"]),
            topic=str(stream_topics.get(s["name"]) or s.get("topic") or f"{pipeline}.{s['name']}"),
            fields=tuple(_field(f) for f in s.get("fields") or []),
        )
        for s in doc.get("streams") or []
    )
    if not streams:
        raise ConfigError("config document declares no streams")
    processing = doc.get("processing") or {}
    sinks = processing.get("sinks") or {}
    lake = sinks.get("lake") or {}
    pg = sinks.get("postgres")
    kafka = doc.get("kafka") or {}
    bootstrap = kafka.get("bootstrapServers")
    if not bootstrap:
        raise ConfigError("config document has no kafka.bootstrapServers")
    lake_format = str(lake.get("format", "delta"))
    if lake_format not in LAKE_FORMATS:
        raise ConfigError(f"lake format {lake_format!r} is not one of {', '.join(LAKE_FORMATS)}")
    checkpoint = (
        processing.get("checkpointPath") or f"{DEFAULT_CHECKPOINT_ROOT}/{namespace}/{pipeline}"
    )
    return JobConfig(
        pipeline=pipeline,
        namespace=namespace,
        bootstrap_servers=str(bootstrap),
        authentication=kafka.get("authentication"),
        streams=streams,
        dead_letter_topic=str(topics.get("deadLetter") or f"{pipeline}.deadletter"),
        aggregates_topic=(
            str(topics.get("aggregates") or f"{pipeline}.aggregates")
            if sinks.get("aggregatesTopic", True)
            else None
        ),
        alerts_topic=str(topics.get("alerts") or f"{pipeline}.alerts"),
        trigger_interval=float(processing.get("triggerInterval", 10.0)),
        max_offsets_per_trigger=_positive(processing.get("maxOffsetsPerTrigger")),
        window=float(processing.get("window", 900.0)),
        watermark=float(processing.get("watermark", 600.0)),
        alerts=_alerts(processing.get("alerts") or {}),
        lake_path=str(lake.get("path") or DEFAULT_LAKE_PATH),
        lake_format=lake_format,
        checkpoint_path=str(checkpoint),
        postgres=(
            PostgresSink(
                dsn_env=str(pg.get("dsnEnv", "PG_DSN")),
                table=str(pg.get("table", "sensor_aggregates")),
            )
            if pg
            else None
        ),
    )


def load(path: str | os.PathLike[str]) -> JobConfig:
    """Read and resolve the config document at ``path``."""
    return from_document(json.loads(Path(path).read_text()))
