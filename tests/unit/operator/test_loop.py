"""The operator-wide loop that replaces kopf timers: due pipelines only, deleted ones never
again, one pipeline's failure not the others', and a paused replica idle."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from sensorpipe_operator.loop import PipelineLoop
from sensorpipe_operator.scaling.status import worth_writing

pytestmark = pytest.mark.unit


def _body(uid: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": uid, **meta}}


def test_due_pipelines_run_and_deleted_ones_stop():
    ran: list[str] = []

    async def work(body: Mapping[str, Any]) -> None:
        ran.append(body["metadata"]["uid"])
        if body["metadata"]["uid"] == "bad":
            raise RuntimeError("one pipeline fails")

    async def scenario() -> None:
        loop = PipelineLoop("resync", work, interval=3600)
        loop.observe("ADDED", _body("a"))
        loop.observe("ADDED", _body("bad"))
        await loop.round()
        await loop.round()  # not due again within the interval
        loop.observe("DELETED", _body("a"))
        loop.observe("MODIFIED", _body("bad", deletionTimestamp="2026-01-01T00:00:00Z"))
        loop.interval = 0
        await loop.round()
        loop.stop()

    asyncio.run(scenario())
    assert ran == ["a", "bad"]


def test_a_paused_replica_does_nothing():
    ran: list[str] = []

    async def work(body: Mapping[str, Any]) -> None:
        ran.append(body["metadata"]["uid"])

    async def paused() -> bool:
        return False

    async def scenario() -> None:
        loop = PipelineLoop("scaling", work, interval=0, may_act=paused)
        loop.observe("ADDED", _body("a"))
        await loop.round()
        loop.stop()

    asyncio.run(scenario())
    assert ran == []


def test_scaling_status_is_worth_writing_only_beyond_its_clock():
    old = {
        "observedAt": "2026-12-03T10:00:00Z",
        "totalLag": 0,
        "lastDecision": {"action": "hold", "time": "2026-12-03T10:00:00Z"},
        "targets": [{"name": "t", "lastDecision": {"action": "hold", "time": "x"}}],
    }
    later = {
        **old,
        "observedAt": "2026-12-03T10:00:05Z",
        "lastDecision": {"action": "hold", "time": "2026-12-03T10:00:05Z"},
        "targets": [{"name": "t", "lastDecision": {"action": "hold", "time": "y"}}],
    }
    assert not worth_writing(old, later)
    assert worth_writing(old, {**later, "totalLag": 7})
    assert worth_writing(None, later)
