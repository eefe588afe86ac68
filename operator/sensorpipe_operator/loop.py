"""Periodic work per pipeline without kopf timers: one loop per job for the whole operator.

kopf's timers put a finalizer on every object they run for (so that their tasks stop before
the object goes), which would leave pipelines undeletable whenever no operator runs; kopf has
no public switch for it and its maintainer declined one. So the operator keeps the pipelines
it has seen from its watch (kopf's public event handler) and runs each periodic job over them
from one task started at startup: a pipeline deleted from the watch is dropped from the loop
at once, and nothing on the object is needed for that.

With peering, kopf pauses its handlers while a peer of higher priority lives; the loop asks
``may_act`` (``PeeringGate``) before each round, so a paused replica does no periodic work
either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from sensorpipe_operator import metrics, peering

log = logging.getLogger(__name__)
Work = Callable[[Mapping[str, Any]], Awaitable[None]]


@dataclass
class PipelineLoop:
    """Runs ``work`` for each known pipeline at most every ``interval`` seconds, checking
    every ``tick`` seconds; ``job`` names it in the metrics and the log."""

    job: str
    work: Work
    interval: float
    tick: float = 1.0
    may_act: Callable[[], Awaitable[bool]] | None = None
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> latest body
    _last: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """Follow the watch: the latest body of each pipeline, and none of a deleted one.
        The first call starts the loop as a task of kopf's event loop: from a handler, so that
        the task inherits the context in which kopf's public ``kopf.event`` posts events (a
        startup handler runs before kopf sets that up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"sensorpipe-{self.job}"
            )
        uid = body.get("metadata", {}).get("uid", "")
        if event_type == "DELETED" or body.get("metadata", {}).get("deletionTimestamp"):
            self.bodies.pop(uid, None)
            self._last.pop(uid, None)
        else:
            self.bodies[uid] = dict(body)

    async def round(self) -> None:
        """One pass over the pipelines that are due."""
        if self.may_act is not None and not await self.may_act():
            return
        for uid, body in list(self.bodies.items()):
            now = time.monotonic()
            if uid not in self.bodies or now - self._last.get(uid, float("-inf")) < self.interval:
                continue
            self._last[uid] = now
            metrics.LOOP_RUNS.labels(job=self.job).inc()
            try:
                await self.work(body)
            except Exception:  # one pipeline's failure must not stop the others' work
                log.exception("%s of %s failed", self.job, body["metadata"].get("name"))

    async def run(self) -> None:
        """Rounds on a fixed cadence (as kopf's sharp timers ticked), however long one takes."""
        next_at = time.monotonic()
        while True:
            next_at += self.tick
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await self.round()

    def stop(self) -> None:
        """Cancel the loop's task (kopf's cleanup)."""
        if self._task is not None:
            self._task.cancel()


@dataclass
class PeeringGate:
    """Whether this replica may act: no live peer in the peering object(s) has a higher
    priority (kopf's own rule). Read at most every ``every`` seconds."""

    api: client.ApiClient
    name: str
    namespaces: tuple[str, ...]
    priority: int
    every: float = 2.0
    _answer: bool = False
    _when: float = float("-inf")

    async def __call__(self) -> bool:
        if time.monotonic() - self._when >= self.every:
            self._answer = await asyncio.to_thread(self._ask)
            self._when = time.monotonic()
        return self._answer

    def _ask(self) -> bool:
        custom = client.CustomObjectsApi(self.api)
        objects = (
            [
                custom.get_namespaced_custom_object(
                    peering.GROUP, peering.VERSION, ns, "kopfpeerings", self.name
                )
                for ns in self.namespaces
            ]
            if self.namespaces
            else [
                custom.get_cluster_custom_object(
                    peering.GROUP, peering.VERSION, "clusterkopfpeerings", self.name
                )
            ]
        )
        now = dt.datetime.now(dt.UTC)
        for obj in objects:
            for peer in (obj.get("status") or {}).values():
                if not isinstance(peer, dict) or int(peer.get("priority", 0)) <= self.priority:
                    continue
                seen = dt.datetime.fromisoformat(str(peer.get("lastSeen")))
                if seen.tzinfo is None:
                    seen = seen.replace(tzinfo=dt.UTC)
                if (now - seen).total_seconds() < int(peer.get("lifetime", 60)):
                    return False
        return True
