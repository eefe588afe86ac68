"""What the third-party controllers' own status says, read the way they write it.

The spark-operator (v2.x) moves a ``SparkApplication`` through 14 states and decides by its
``restartPolicy`` whether a failed or finished run is retried (``util.ShouldRetry`` upstream);
Strimzi's topic operator writes one condition per ``KafkaTopic``: ``Ready`` (True, or False with
a reason), or ``Unmanaged`` / ``ReconciliationPaused`` instead. Each is mapped here on purpose
to a verdict: ready, progress (wait), or a failure a person must act on (kstatus ``Stalled``).

When nothing happens to a child for ``NO_PROGRESS_SECONDS`` after it was created, the likeliest
cause is a controller that does not watch the namespace (or is not installed at all); the
verdict's message then names that prerequisite (docs/operations.md, "Prerequisites").
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sensorpipe_contract.identity import TIME_FORMAT

NO_PROGRESS_SECONDS = 120.0
SPARK_STATES = (
    "",
    "SUBMITTED",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "SUBMISSION_FAILED",
    "PENDING_RERUN",
    "INVALIDATING",
    "SUCCEEDING",
    "FAILING",
    "SUSPENDING",
    "SUSPENDED",
    "RESUMING",
    "UNKNOWN",
)
# Strimzi's reasons on ``Ready: False`` (TopicOperatorException.Reason): none goes away by
# waiting, since the topic operator retries only on the next change or periodic pass.
STRIMZI_FAILURES = ("NotSupported", "ResourceConflict", "KafkaError", "InternalError")
WEBHOOK_HINT = (
    "if the driver cannot find its config or credentials, the spark-operator's mutating "
    "webhook is off (volumes and secret env reach the pods only through it)"
)


@dataclass(frozen=True)
class Verdict:
    """``failed``: needs a person (Stalled); not ok and not failed: progress (Reconciling)."""

    ok: bool
    reason: str
    message: str
    failed: bool = False


def _age(obj: Mapping[str, Any], now: float) -> float:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return 0.0
    try:
        return now - calendar.timegm(time.strptime(str(created), TIME_FORMAT))
    except ValueError:
        return 0.0


def _retries_left(app: Mapping[str, Any], state: str) -> tuple[bool, str]:
    """Whether the spark-operator will run the application again from ``state``, and the
    count to show (upstream's ShouldRetry: Always retries everything, OnFailure while the
    attempts do not exceed the retries, Never nothing)."""
    policy = (app.get("spec") or {}).get("restartPolicy") or {}
    kind = policy.get("type", "Never")
    st = app.get("status") or {}
    if state == "SUCCEEDING":
        return kind == "Always", ""
    if state == "FAILING":
        attempts, limit = st.get("executionAttempts", 0), policy.get("onFailureRetries")
    else:  # SUBMISSION_FAILED
        attempts, limit = st.get("submissionAttempts", 0), policy.get("onSubmissionFailureRetries")
    if kind == "Always":
        return True, f"attempt {attempts}"
    if kind == "OnFailure" and limit is not None and attempts <= limit:
        return True, f"attempt {attempts} of {limit + 1}"
    return False, f"after {attempts} attempt(s)"


def spark(app: Mapping[str, Any] | None, now: float | None = None) -> Verdict:
    """The streaming job's health from its SparkApplication; all 14 states are handled."""
    if app is None:
        return Verdict(False, "NotCreated", "the SparkApplication does not exist yet")
    now = time.time() if now is None else now
    app_state = (app.get("status") or {}).get("applicationState") or {}
    state, error = app_state.get("state", ""), app_state.get("errorMessage", "")
    detail = f": {error}" if error else ""
    if state == "RUNNING":
        return Verdict(True, "Running", "the streaming job is running")
    if state == "":
        message = "waiting for the spark-operator to submit the SparkApplication"
        if _age(app, now) > NO_PROGRESS_SECONDS:
            ns = (app.get("metadata") or {}).get("namespace", "")
            message = (
                f"the spark-operator has not picked up the SparkApplication after "
                f"{NO_PROGRESS_SECONDS:.0f}s: is it installed, and does its spark.jobNamespaces "
                f"include {ns!r}?"
            )
        return Verdict(False, "SparkNotSubmitted", message)
    if state in ("SUBMITTED", "RESUMING", "UNKNOWN"):
        what = {
            "SUBMITTED": "submitted, the driver is starting",
            "RESUMING": "resuming after a suspension",
            "UNKNOWN": "in an unknown state (the driver pod's node may be unreachable)",
        }[state]
        return Verdict(False, f"Spark{state.title()}", f"the SparkApplication is {what}")
    if state in ("INVALIDATING", "PENDING_RERUN"):
        return Verdict(
            False,
            "SparkRestarting",
            f"the SparkApplication is {state}: restarting with its changed spec "
            "(a spec change by sensorpipe or an autoscaler step)",
        )
    if state in ("FAILING", "SUBMISSION_FAILED", "SUCCEEDING"):
        retried, count = _retries_left(app, state)
        if retried:
            what = "finished and is run again" if state == "SUCCEEDING" else f"failed, {count}"
            return Verdict(
                False, "SparkRetrying", f"the streaming job {what}, retrying{detail}".strip()
            )
        if state == "SUCCEEDING":
            return _completed(state)
        return Verdict(
            False,
            "SparkFailed",
            f"the SparkApplication is {state} {count}, no retries left{detail}; {WEBHOOK_HINT}",
            failed=True,
        )
    if state == "FAILED":
        return Verdict(
            False, "SparkFailed", f"the SparkApplication FAILED{detail}; {WEBHOOK_HINT}", True
        )
    if state == "COMPLETED":
        return _completed(state)
    if state in ("SUSPENDING", "SUSPENDED"):
        return Verdict(
            False,
            "SparkSuspended",
            f"the SparkApplication is {state} (spec.suspend was set outside sensorpipe): "
            "set it to false to run the pipeline",
            failed=True,
        )
    return Verdict(False, "SparkUnknownState", f"the SparkApplication reports state {state!r}")


def _completed(state: str) -> Verdict:
    return Verdict(
        False,
        "SparkCompleted",
        f"the SparkApplication is {state}: the streaming job ended, which it must not do; "
        "see the driver log, or use restartPolicy Always",
        failed=True,
    )


def strimzi_topic(topic: Mapping[str, Any] | None, now: float | None = None) -> Verdict:
    """One KafkaTopic as Strimzi's topic operator reports it for its current generation."""
    if topic is None:
        return Verdict(False, "NotCreated", "not created yet")
    now = time.time() if now is None else now
    st = topic.get("status") or {}
    if st.get("observedGeneration", 0) < (topic.get("metadata") or {}).get("generation", 1):
        if not st and _age(topic, now) > NO_PROGRESS_SECONDS:
            meta = topic.get("metadata") or {}
            cluster = (meta.get("labels") or {}).get("strimzi.io/cluster", "")
            return Verdict(
                False,
                "NotReconciled",
                f"Strimzi has not reconciled it after {NO_PROGRESS_SECONDS:.0f}s: does the "
                f"entity topic operator of Kafka cluster {cluster!r} watch namespace "
                f"{meta.get('namespace', '')!r}?",
            )
        return Verdict(False, "NotReconciled", "not reconciled by Strimzi yet")
    for cond in st.get("conditions") or []:
        ctype, cstatus = cond.get("type"), cond.get("status")
        if ctype in ("Unmanaged", "ReconciliationPaused") and cstatus == "True":
            what = "strimzi.io/managed: false" if ctype == "Unmanaged" else "paused"
            return Verdict(
                False,
                ctype,
                f"{ctype}: Strimzi does not reconcile it ({what}); remove the annotation",
                failed=True,
            )
        if ctype == "Ready":
            if cstatus == "True":
                return Verdict(True, "Ready", "ready")
            reason = cond.get("reason", "NotReady")
            message = f"{reason}: {cond.get('message', '')}".strip().rstrip(":")
            return Verdict(False, reason, message, failed=reason in STRIMZI_FAILURES)
    return Verdict(False, "NotReconciled", "no Ready condition yet")
