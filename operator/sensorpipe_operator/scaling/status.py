"""The shape of ``status.scaling`` (docs/contracts.md §6), built from what one poll found.

Pure, so the shape is unit-tested without an API server. The CRD's printer columns read
``totalLag`` and ``currentReplicas``; everything else is for people and dashboards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sensorpipe_contract.identity import TIME_FORMAT
from sensorpipe_operator.scaling.policy import Decision, PolicyState
from sensorpipe_operator.scaling.targets import ScaleTarget
from sensorpipe_operator.scaling.window import Observation


def timestamp(seconds: float) -> str:
    """RFC 3339 UTC, as Kubernetes writes times."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class TargetOutcome:
    """One target's poll: what was measured and decided; ``current`` is None when the target
    does not exist yet (the operator has not created it), in which case nothing was decided."""

    target: ScaleTarget
    observation: Observation
    current: int | None
    decision: Decision | None
    state: PolicyState
    last_scale: dict[str, Any] | None


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "action": decision.action,
        "reason": str(decision.reason),
        "message": decision.message,
        "from": decision.current,
        "to": decision.desired,
        "recommended": decision.recommended,
        "time": timestamp(decision.time),
    }


def target_status(outcome: TargetOutcome) -> dict[str, Any]:
    """One entry of ``targets``. Unknown figures are left out rather than written as null:
    the list is replaced as a whole on every poll, so nothing stale survives, and a null in
    kopf's merge patch would delete the key and make kopf report the patch as inconsistent."""
    obs = outcome.observation
    out: dict[str, Any] = {
        "kind": str(outcome.target.kind),
        "name": outcome.target.name,
        "group": outcome.target.group,
        "brokerReachable": obs.reachable,
        "lag": obs.total_lag,
        "lagByTopic": [{"topic": t, "lag": lag} for t, lag in sorted(obs.lag_by_topic.items())],
        "inputRate": _rate(obs.input_rate),
        "consumptionRate": _rate(obs.consumption_rate),
        "capacityPerReplica": _rate(outcome.state.capacity),
        "capacityMeasured": outcome.state.capacity_measured,
        "partitions": obs.partitions,
        "activePartitions": obs.active_partitions,
        "committed": obs.committed,
        "currentReplicas": outcome.current,
        "desiredReplicas": outcome.decision.desired if outcome.decision else outcome.current,
    }
    if obs.error:
        out["error"] = obs.error
    if outcome.decision is not None:
        out["lastDecision"] = decision_dict(outcome.decision)
    if outcome.last_scale is not None:
        out["lastScale"] = outcome.last_scale
    return {k: v for k, v in out.items() if v is not None}


def scaling_status(target_kind: str, outcomes: list[TargetOutcome], now: float) -> dict[str, Any]:
    """``status.scaling`` for one poll of all the pipeline's targets. Without any decision
    (no target exists yet) ``lastDecision`` is left out, so the previous one stays."""
    targets = [target_status(r) for r in outcomes]
    decisions = [r.decision for r in outcomes if r.decision is not None]
    out: dict[str, Any] = {
        "target": target_kind,
        "observedAt": timestamp(now),
        "brokerReachable": all(r.observation.reachable for r in outcomes),
        "totalLag": sum(r.observation.total_lag for r in outcomes),
        "currentReplicas": sum(r.current or 0 for r in outcomes),
        "desiredReplicas": sum(t.get("desiredReplicas", 0) for t in targets),
        "targets": targets,
    }
    if decisions:
        latest = max(decisions, key=lambda d: (d.action != "hold", d.time))
        out["lastDecision"] = decision_dict(latest)
    return out


def _without_clock(scaling: Mapping[str, Any]) -> dict[str, Any]:
    """``status.scaling`` less the times every poll restamps (when it looked, when it decided
    to hold); a scale's own time (``lastScale``) stays, it is an event."""

    def undated(decision: Any) -> Any:
        return {k: v for k, v in decision.items() if k != "time"} if decision else decision

    out = {k: v for k, v in scaling.items() if k != "observedAt"}
    out["lastDecision"] = undated(out.get("lastDecision"))
    out["targets"] = [
        {**t, "lastDecision": undated(t.get("lastDecision"))} for t in out.get("targets") or []
    ]
    return out


def worth_writing(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether a poll's ``status.scaling`` tells a reader anything the written one does not.
    The clock alone does not: rewriting ``observedAt`` on every poll of an idle pipeline would
    cost a PATCH and a full reconcile each time, so the written times stay those of the poll
    whose figures are shown."""
    return not old or _without_clock(old) != _without_clock(new)
