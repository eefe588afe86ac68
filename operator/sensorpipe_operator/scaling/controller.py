"""One poll of one pipeline: read every target's lag, decide, actuate, publish.

This is the core the kopf timer calls; it takes the pipeline's body and its memory as
arguments and knows nothing of kopf, so tests can drive it against the real API server and
broker as well.
"""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sensorpipe_contract.identity import TIME_FORMAT
from sensorpipe_operator.kafka_clients import KafkaClients
from sensorpipe_operator.kube import Kube, KubeError
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.actuate import Actuator
from sensorpipe_operator.scaling.lag import LagReader
from sensorpipe_operator.scaling.policy import PolicyState, decide
from sensorpipe_operator.scaling.publish import announce, record_metrics
from sensorpipe_operator.scaling.status import TargetOutcome, scaling_status, timestamp
from sensorpipe_operator.scaling.targets import ScaleTarget, targets
from sensorpipe_operator.scaling.window import RateWindow, Snapshot

log = logging.getLogger(__name__)


@dataclass
class TargetMemory:
    """What one target's polls carry over: the rate window and the policy's state."""

    window: RateWindow
    state: PolicyState = field(default_factory=PolicyState)
    last_scale: dict[str, Any] | None = None


@dataclass
class PipelineMemory:
    """Per pipeline, kept in kopf's per-object memo between timer ticks."""

    last_poll: float | None = None
    targets: dict[tuple[str, str], TargetMemory] = field(default_factory=dict)

    def due(self, now: float, interval: float) -> bool:
        return self.last_poll is None or now - self.last_poll >= interval - 1e-3

    def for_target(self, target: ScaleTarget, status: Mapping[str, Any]) -> TargetMemory:
        key = (str(target.kind), target.name)
        mem = self.targets.get(key)
        if mem is None:
            mem = TargetMemory(RateWindow(target.config.rate_window))
            mem.last_scale, mem.state = resume(target, status)
            self.targets[key] = mem
        mem.window.length = target.config.rate_window
        return mem


def _parse_time(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, TIME_FORMAT)))


def resume(
    target: ScaleTarget, status: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, PolicyState]:
    """What status recorded of the target, so that an operator restart neither forgets the
    last action nor lets the cool-down, the direction guard and the measured capacity start
    from scratch."""
    for entry in (status.get("scaling") or {}).get("targets") or []:
        if entry.get("name") != target.name:
            continue
        capacity = entry.get("capacityPerReplica")
        state = PolicyState(
            capacity=float(capacity) if capacity else None,
            capacity_measured=bool(capacity) and bool(entry.get("capacityMeasured")),
        )
        last = entry.get("lastScale")
        try:
            when = _parse_time(str(last["time"]))
            direction = 1 if int(last["to"]) > int(last["from"]) else -1
        except (KeyError, TypeError, ValueError):
            return None, state
        return dict(last), replace(state, last_change=when, last_direction=direction)
    return None, PolicyState()


class ScalingController:
    """Shared by all pipelines of one operator process: its Kubernetes client and its Kafka
    clients (the admin topic backend's too)."""

    def __init__(self, kube: Kube, kafka: KafkaClients, request_timeout: float = 5.0) -> None:
        self._kube = kube
        self._kafka = kafka
        self._actuator = Actuator(kube)
        self._timeout = request_timeout

    def poll(self, body: Mapping[str, Any], memory: PipelineMemory) -> dict[str, Any] | None:
        """Poll the pipeline if its poll interval has passed; the new ``status.scaling``, or
        None when nothing was polled (not due, scaling off, or a spec the reconciler refuses)."""
        meta = body["metadata"]
        try:
            pipeline = parse(body.get("spec"), meta["name"], meta["namespace"])
        except SpecError:
            return None  # the reconciler reports the spec error on the status
        scaled = targets(pipeline)
        now = time.time()
        if not scaled or not memory.due(now, pipeline.scaling.poll_interval):
            return None
        memory.last_poll = now
        reader: LagReader | None = None
        why = ""
        try:
            reader = LagReader(self._kafka.admin(pipeline), timeout=self._timeout)
        except (KubeError, KeyError) as exc:
            why = f"Kafka credentials (spec.kafka.authentication): {_short(exc)}"
        status = body.get("status") or {}
        outcomes = []
        for target in scaled:
            mem = memory.for_target(target, status)
            snap = (
                reader.snapshot(target.group, target.topics)
                if reader is not None
                else Snapshot(time=time.time(), group=target.group, error=why)
            )
            outcome = self._poll_target(body, target, mem, snap)
            record_metrics(pipeline.namespace, pipeline.name, outcome)
            outcomes.append(outcome)
        live = {(str(t.kind), t.name) for t in scaled}
        memory.targets = {k: v for k, v in memory.targets.items() if k in live}
        return scaling_status(pipeline.scaling.target, outcomes, now)

    def _poll_target(
        self, body: Mapping[str, Any], target: ScaleTarget, mem: TargetMemory, snap: Snapshot
    ) -> TargetOutcome:
        namespace = body["metadata"]["namespace"]
        obs = mem.window.add(snap)
        try:
            current = self._actuator.current(namespace, target)
        except KubeError as exc:
            log.warning("cannot read the scale of %s %s: %s", target.kind, target.name, exc)
            current = None
            obs = replace(obs, error=f"reading {target.kind}: {_short(exc)}")
        if current is None:
            return TargetOutcome(target, obs, None, None, mem.state, mem.last_scale)
        decision, state = decide(target.config, mem.state, obs, current)
        if decision.desired != current:
            try:
                self._actuator.set(namespace, target, decision.desired)
            except KubeError as exc:
                # The policy's state is not advanced: the change did not happen.
                log.warning("cannot scale %s %s: %s", target.kind, target.name, exc)
                obs = replace(obs, error=f"scaling {target.kind}: {_short(exc)}")
                return TargetOutcome(target, obs, current, None, mem.state, mem.last_scale)
            mem.last_scale = {
                "from": decision.current,
                "to": decision.desired,
                "reason": str(decision.reason),
                "message": decision.message,
                "time": timestamp(decision.time),
            }
            log.info("scaled %s %s: %s", target.kind, target.name, decision.message)
            announce(self._kube, dict(body), target.name, decision)
        mem.state = state
        return TargetOutcome(target, obs, current, decision, mem.state, mem.last_scale)


def _short(exc: Exception) -> str:
    if isinstance(exc, KubeError):
        return f"{exc.status} {exc.message}"
    return f"missing key {exc}"
