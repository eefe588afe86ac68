"""The pipeline's status: conditions computed from the children's real state, and the one
code path that writes them (through kopf's ``patch``).

Conditions follow the Kubernetes convention (type, status, reason, message,
lastTransitionTime, observedGeneration). Beside ``Ready`` and ``observedGeneration`` come
kstatus' ``Reconciling`` (work in flight) and ``Stalled`` (a failure that needs a person), so
that kubectl wait, Flux's health checks and Argo CD tell progress, success and failure apart.
Only the keys this module owns are written; ``status.scaling`` belongs to the autoscaler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from typing import Any

from sensorpipe_contract.identity import TIME_FORMAT
from sensorpipe_operator import health

Check = health.Verdict  # one condition's verdict: ok, reason, message, failed (Stalled)

TOPICS, PROCESSING, GATEWAYS, READY = "TopicsReady", "ProcessingReady", "GatewaysReady", "Ready"
RECONCILING, STALLED = "Reconciling", "Stalled"
PHASES = ("Progressing", "Ready", "Degraded", "Failed")
OWNED_KEYS = ("observedGeneration", "phase", "conditions", "topics")


def deployment_progress(dep: Mapping[str, Any] | None) -> tuple[bool, str]:
    """Whether a Deployment has rolled out its current generation and is available."""
    if dep is None:
        return False, "not created yet"
    want = dep.get("spec", {}).get("replicas", 1)
    st = dep.get("status") or {}
    if st.get("observedGeneration", 0) < dep.get("metadata", {}).get("generation", 1):
        return False, "rollout not observed yet"
    updated, available = st.get("updatedReplicas", 0), st.get("availableReplicas", 0)
    if updated < want or available < want:
        return False, f"{available}/{want} available, {updated}/{want} updated"
    return True, f"{available}/{want} available"


def _deployments_check(kind: str, deps: Mapping[str, Mapping[str, Any] | None]) -> Check:
    waiting = []
    for name, dep in sorted(deps.items()):
        ok, detail = deployment_progress(dep)
        if not ok:
            waiting.append(f"{kind} {name}: {detail}")
    if waiting:
        return Check(False, "Unavailable", "; ".join(waiting))
    return Check(True, "Available", f"all {len(deps)} {kind}(s) available")


def gateways_check(deps: Mapping[str, Mapping[str, Any] | None]) -> Check:
    if not deps:
        return Check(True, "NoGateways", "the pipeline declares no gateways")
    return _deployments_check("gateway", deps)


def processing_check(
    spark: Mapping[str, Any] | None,
    consumers: Mapping[str, Mapping[str, Any] | None],
    now: float | None = None,
) -> Check:
    """Spark as the spark-operator reports it (``health.spark``), then the consumers'
    availability."""
    check = health.spark(spark, now)
    if not check.ok:
        return check
    if consumers:
        waiting = _deployments_check("consumer", consumers)
        if not waiting.ok:
            return waiting
    return Check(
        True,
        "Running",
        "the streaming job is running" + (" with its consumers" if consumers else ""),
    )


def topics_check(states: Mapping[str, Check], refused: list[str]) -> Check:
    """``states`` maps topic name to its verdict; ``refused`` lists refused changes. A topic
    the topic controller gave up on (Strimzi's NotSupported, say) fails the condition."""
    if refused:
        return Check(False, "PartitionDecreaseRefused", "; ".join(refused), failed=True)
    failed = [f"{name}: {v.message}" for name, v in sorted(states.items()) if v.failed]
    if failed:
        reasons = sorted({v.reason for v in states.values() if v.failed})
        return Check(False, "Topic" + "".join(reasons), "; ".join(failed), failed=True)
    waiting = [f"{name}: {v.message}" for name, v in sorted(states.items()) if not v.ok]
    if waiting:
        return Check(False, "TopicsNotReady", "; ".join(waiting))
    return Check(True, "TopicsReady", f"all {len(states)} topics ready")


def compute(generation: int, checks: Mapping[str, Check]) -> dict[str, Any]:
    """The owned part of the status (without transition times) from the checks."""
    ready_all = all(c.ok for c in checks.values())
    failed = [(t, c) for t, c in checks.items() if c.failed]
    waiting = [(t, c) for t, c in checks.items() if not c.ok]
    if ready_all:
        ready = Check(True, "Ready", "the pipeline is running")
        phase, cause = "Ready", ready
    elif failed:
        ready = Check(False, "Degraded", "; ".join(f"{t}: {c.message}" for t, c in failed))
        phase, cause = "Degraded", failed[0][1]
    else:
        ready = Check(False, "Progressing", "; ".join(f"{t}: {c.message}" for t, c in waiting))
        phase, cause = "Progressing", waiting[0][1]
    return {
        "observedGeneration": generation,
        "phase": phase,
        "conditions": [
            _condition(t, c, generation)
            for t, c in [*checks.items(), (READY, ready), *_kstatus(ready, cause, phase)]
        ],
    }


def _kstatus(ready: Check, cause: Check, phase: str) -> list[tuple[str, Check]]:
    """kstatus' abnormal-true conditions, True only while they hold (False otherwise, so that
    a reader sees them settle): Reconciling while the pipeline converges, Stalled when it
    cannot without a person. They carry the reason of the first condition that is not ready
    (``SparkRestarting``, ``SparkFailed``, ...) and Ready's message."""
    progressing, stalled = phase == "Progressing", phase in ("Degraded", "Failed")
    idle = Check(False, "Ready" if phase == "Ready" else cause.reason, ready.message)
    return [
        (RECONCILING, Check(True, cause.reason, ready.message) if progressing else idle),
        (STALLED, Check(True, cause.reason, ready.message) if stalled else idle),
    ]


def invalid(generation: int, message: str) -> dict[str, Any]:
    """The status of a spec the operator cannot act on (the API server let it through, but the
    model's stricter checks did not); nothing is changed until it is fixed."""
    bad = Check(False, "InvalidSpec", message, failed=True)
    return {
        "observedGeneration": generation,
        "phase": "Failed",
        "conditions": [
            _condition(t, c, generation) for t, c in [(READY, bad), *_kstatus(bad, bad, "Failed")]
        ],
    }


def _condition(ctype: str, check: Check, generation: int) -> dict[str, Any]:
    return {
        "type": ctype,
        "status": "True" if check.ok else "False",
        "reason": check.reason,
        "message": check.message,
        "observedGeneration": generation,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)


def with_transition_times(
    new: list[dict[str, Any]], old: list[Mapping[str, Any]], now: str | None = None
) -> list[dict[str, Any]]:
    """Keep a condition's lastTransitionTime unless its status changed."""
    before = {c.get("type"): c for c in old}
    out = []
    for cond in new:
        prev = before.get(cond["type"])
        same = prev is not None and prev.get("status") == cond["status"]
        stamp = prev.get("lastTransitionTime") if same and prev else None
        out.append({**cond, "lastTransitionTime": stamp or now or _now()})
    return out


def write(
    patch_status: MutableMapping[str, Any],
    current: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
) -> dict[str, Any]:
    """Put into ``patch_status`` (kopf's ``patch.status``) only the owned keys that differ
    from ``current``; returns what was written, empty when nothing changed."""
    current = current or {}
    full = dict(desired)
    full["conditions"] = with_transition_times(
        list(desired.get("conditions", [])), list(current.get("conditions") or [])
    )
    changes = {k: v for k, v in full.items() if k in OWNED_KEYS and current.get(k) != v}
    for key, value in changes.items():
        patch_status[key] = value
    return changes
