"""The Spark jobs' settings: the runtime config document, read with the contract's reader
(``sensorpipe_contract.runtime``), with only local paths and endpoints overridable.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sensorpipe_contract import runtime
from sensorpipe_contract.runtime import AlertSpec, PostgresSink, StreamSpec


@dataclass(frozen=True)
class JobConfig:
    """Everything the streaming and batch jobs need, resolved from the config document (its
    defaults are the contract's, ``sensorpipe_contract.runtime``; none are repeated here)."""

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
    lake_format: str
    max_offsets_per_trigger: int | None

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


def from_document(doc: Mapping[str, Any]) -> JobConfig:
    """The jobs' settings from a runtime config document; a ContractError when the document
    is not one of a known version, or lacks what the jobs read (its ``processing`` block)."""
    typed = runtime.read(doc)
    proc = typed.processing
    if proc is None:
        raise runtime.ContractError("processing is missing: the jobs have nothing to run")
    if not typed.streams:
        raise runtime.ContractError("streams is empty: the jobs have nothing to read")
    return JobConfig(
        pipeline=typed.pipeline,
        namespace=typed.namespace,
        bootstrap_servers=typed.bootstrap_servers,
        authentication=typed.authentication,
        streams=typed.streams,
        dead_letter_topic=typed.dead_letter_topic,
        aggregates_topic=typed.aggregates_topic if proc.aggregates_topic else None,
        alerts_topic=typed.alerts_topic,
        trigger_interval=proc.trigger_interval,
        max_offsets_per_trigger=proc.max_offsets_per_trigger,
        window=proc.window,
        watermark=proc.watermark,
        alerts=proc.alerts,
        lake_path=proc.lake_path,
        lake_format=proc.lake_format,
        checkpoint_path=proc.checkpoint_path,
        postgres=proc.postgres,
    )


def load(path: str | os.PathLike[str]) -> JobConfig:
    """Read and resolve the config document at ``path``."""
    return from_document(json.loads(Path(path).read_text()))
