"""The pipeline's status: conditions computed from the children's real state, and the one
code path that writes them (through kopf's ``patch``).

Conditions follow the Kubernetes convention (type, status, reason, message,
lastTransitionTime, observedGeneration) and a top-level ``Ready`` plus ``observedGeneration``
so that kstatus-based tools (kubectl wait, Flux, Argo CD) understand the resource. Only the
keys this module owns are written; ``status.scaling`` belongs to the autoscaler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

TOPICS, PROCESSING, GATEWAYS, READY = "TopicsReady", "ProcessingReady", "GatewaysReady", "Ready"
PHASES = ("Progressing", "Ready", "Degraded", "Failed")
OWNED_KEYS = ("observedGeneration", "phase", "conditions", "topics")
SPARK_FAILED = {"FAILED", "SUBMISSION_FAILED", "FAILING", "INVALIDATING", "UNKNOWN"}


@dataclass(frozen=True)
class Check:
    """One condition's verdict. ``failed`` marks a state that needs a person (Degraded), as
    opposed to one that is merely still converging (Progressing)."""

    ok: bool
    reason: str
    message: str
    failed: bool = False


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
    spark: Mapping[str, Any] | None, consumers: Mapping[str, Mapping[str, Any] | None]
) -> Check:
    """Spark as the spark-operator reports it, then the consumers' availability."""
    if spark is None:
        return Check(False, "NotCreated", "the SparkApplication does not exist yet")
    state = ((spark.get("status") or {}).get("applicationState") or {}).get("state", "")
    if state in SPARK_FAILED:
        error = ((spark.get("status") or {}).get("applicationState") or {}).get("errorMessage", "")
        return Check(
            False,
            "SparkFailed",
            f"SparkApplication is {state}: {error or 'see the driver log'}",
            failed=True,
        )
    if state != "RUNNING":
        return Check(
            False, "SparkNotRunning", f"SparkApplication is {state or 'not submitted yet'}"
        )
    if consumers:
        check = _deployments_check("consumer", consumers)
        if not check.ok:
            return check
    return Check(
        True,
        "Running",
        "the streaming job is running" + (" with its consumers" if consumers else ""),
    )


def strimzi_topic_ready(topic: Mapping[str, Any] | None) -> tuple[bool, str]:
    """A KafkaTopic is ready when Strimzi says so for its current generation."""
    if topic is None:
        return False, "not created yet"
    st = topic.get("status") or {}
    if st.get("observedGeneration", 0) < topic.get("metadata", {}).get("generation", 1):
        return False, "not reconciled by Strimzi yet"
    for cond in st.get("conditions") or []:
        if cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return True, "ready"
            return False, f"{cond.get('reason', 'NotReady')}: {cond.get('message', '')}".strip()
    return False, "no Ready condition yet"


def topics_check(states: Mapping[str, tuple[bool, str]], refused: list[str]) -> Check:
    """``states`` maps topic name to (ready, detail); ``refused`` lists refused changes."""
    if refused:
        return Check(False, "PartitionDecreaseRefused", "; ".join(refused), failed=True)
    waiting = [f"{name}: {detail}" for name, (ok, detail) in sorted(states.items()) if not ok]
    if waiting:
        return Check(False, "TopicsNotReady", "; ".join(waiting))
    return Check(True, "TopicsReady", f"all {len(states)} topics ready")


def compute(generation: int, checks: Mapping[str, Check]) -> dict[str, Any]:
    """The owned part of the status (without transition times) from the checks."""
    ready_all = all(c.ok for c in checks.values())
    failed = [t for t, c in checks.items() if c.failed]
    if ready_all:
        ready = Check(True, "Ready", "the pipeline is running")
        phase = "Ready"
    elif failed:
        ready = Check(False, "Degraded", f"{', '.join(failed)} failed: see their conditions")
        phase = "Degraded"
    else:
        waiting = [t for t, c in checks.items() if not c.ok]
        ready = Check(False, "Progressing", f"waiting for {', '.join(waiting)}")
        phase = "Progressing"
    return {
        "observedGeneration": generation,
        "phase": phase,
        "conditions": [_condition(t, c, generation) for t, c in [*checks.items(), (READY, ready)]],
    }


def invalid(generation: int, message: str) -> dict[str, Any]:
    """The status of a spec the operator cannot act on (the API server let it through, but the
    model's stricter checks did not); nothing is changed until it is fixed."""
    bad = Check(False, "InvalidSpec", message, failed=True)
    return {
        "observedGeneration": generation,
        "phase": "Failed",
        "conditions": [_condition(READY, bad, generation)],
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
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
