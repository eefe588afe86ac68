"""The third-party controllers' status read as they write it: every one of the
spark-operator's 14 states with its restartPolicy, Strimzi's topic conditions, and the
KafkaTopic version choice."""

from __future__ import annotations

from typing import Any

import pytest

from sensorpipe_operator import health, status, strimzi
from sensorpipe_operator.kube import Kind

pytestmark = pytest.mark.unit
NOW = 1_800_000_000.0
CREATED_LONG_AGO = "2020-01-01T00:00:00Z"
ALWAYS = {"type": "Always"}
ON_FAILURE = {
    "type": "OnFailure",
    "onFailureRetries": 3,
    "onFailureRetryInterval": 10,
    "onSubmissionFailureRetries": 2,
    "onSubmissionFailureRetryInterval": 20,
}
NEVER = {"type": "Never"}
KAFKA_TOPICS_V1BETA2 = Kind("kafka.strimzi.io/v1beta2", "KafkaTopic", "kafkatopics")


def _app(state: str, policy: dict[str, Any], **st: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "farm", "creationTimestamp": "2026-12-03T10:00:00Z"},
        "spec": {"restartPolicy": policy},
        "status": {
            "applicationState": {"state": state, "errorMessage": "boom" if "FAIL" in state else ""},
            "driverInfo": {},
            **st,
        },
    }


# (state, restartPolicy, status extras) -> (ok, reason, failed)
SPARK_CASES = [
    ("", ALWAYS, {}, (False, "SparkNotSubmitted", False)),
    ("SUBMITTED", ALWAYS, {}, (False, "SparkSubmitted", False)),
    ("RUNNING", ALWAYS, {}, (True, "Running", False)),
    ("COMPLETED", NEVER, {}, (False, "SparkCompleted", True)),
    ("FAILED", ON_FAILURE, {"executionAttempts": 4}, (False, "SparkFailed", True)),
    ("SUBMISSION_FAILED", ALWAYS, {"submissionAttempts": 5}, (False, "SparkRetrying", False)),
    ("SUBMISSION_FAILED", ON_FAILURE, {"submissionAttempts": 2}, (False, "SparkRetrying", False)),
    ("SUBMISSION_FAILED", ON_FAILURE, {"submissionAttempts": 3}, (False, "SparkFailed", True)),
    ("SUBMISSION_FAILED", NEVER, {"submissionAttempts": 1}, (False, "SparkFailed", True)),
    ("PENDING_RERUN", ALWAYS, {}, (False, "SparkRestarting", False)),
    ("INVALIDATING", ALWAYS, {}, (False, "SparkRestarting", False)),
    ("SUCCEEDING", ALWAYS, {}, (False, "SparkRetrying", False)),
    ("SUCCEEDING", ON_FAILURE, {}, (False, "SparkCompleted", True)),
    ("FAILING", ALWAYS, {"executionAttempts": 9}, (False, "SparkRetrying", False)),
    ("FAILING", ON_FAILURE, {"executionAttempts": 3}, (False, "SparkRetrying", False)),
    ("FAILING", ON_FAILURE, {"executionAttempts": 4}, (False, "SparkFailed", True)),
    ("FAILING", NEVER, {"executionAttempts": 1}, (False, "SparkFailed", True)),
    ("SUSPENDING", ALWAYS, {}, (False, "SparkSuspended", True)),
    ("SUSPENDED", ALWAYS, {}, (False, "SparkSuspended", True)),
    ("RESUMING", ALWAYS, {}, (False, "SparkResuming", False)),
    ("UNKNOWN", ALWAYS, {}, (False, "SparkUnknown", False)),
]


@pytest.mark.parametrize(("state", "policy", "extra", "want"), SPARK_CASES)
def test_every_spark_state_is_mapped_with_its_restart_policy(state, policy, extra, want):
    verdict = health.spark(_app(state, policy, **extra), now=NOW - 10**9)
    assert (verdict.ok, verdict.reason, verdict.failed) == want


def test_all_14_states_are_covered():
    assert {case[0] for case in SPARK_CASES} == set(health.SPARK_STATES)
    assert len(health.SPARK_STATES) == 14


def test_a_retried_failure_shows_its_count():
    verdict = health.spark(_app("FAILING", ON_FAILURE, executionAttempts=2))
    assert "attempt 2 of 4" in verdict.message
    assert "boom" in verdict.message


def test_a_restart_after_a_spec_change_is_progress_not_degraded():
    """Any spec change (the config hash, an autoscaler step) goes INVALIDATING ->
    PENDING_RERUN -> SUBMITTED -> RUNNING upstream: Progressing throughout, then Ready."""
    phases = []
    for state in ("INVALIDATING", "PENDING_RERUN", "SUBMITTED", "RUNNING"):
        check = status.processing_check(_app(state, ALWAYS), {})
        phases.append(status.compute(1, {status.PROCESSING: check})["phase"])
    assert phases == ["Progressing", "Progressing", "Progressing", "Ready"]


def test_no_submission_for_long_names_the_missing_prerequisite():
    app = _app("", ALWAYS)
    assert "jobNamespaces" not in health.spark(app, now=NOW - 10**9).message
    app["metadata"]["creationTimestamp"] = CREATED_LONG_AGO
    assert "spark.jobNamespaces include 'farm'" in health.spark(app, now=NOW).message


def _topic(*conditions: dict[str, Any], observed: int = 1) -> dict[str, Any]:
    return {
        "metadata": {
            "generation": 1,
            "namespace": "farm",
            "labels": {"strimzi.io/cluster": "sensors"},
            "creationTimestamp": CREATED_LONG_AGO,
        },
        "status": {"observedGeneration": observed, "conditions": list(conditions)},
    }


@pytest.mark.parametrize(
    ("condition", "want"),
    [
        ({"type": "Ready", "status": "True"}, (True, "Ready", False)),
        (
            {"type": "Ready", "status": "False", "reason": "NotSupported", "message": "rf"},
            (False, "NotSupported", True),
        ),
        (
            {"type": "Ready", "status": "False", "reason": "ResourceConflict"},
            (False, "ResourceConflict", True),
        ),
        ({"type": "Ready", "status": "False", "reason": "KafkaError"}, (False, "KafkaError", True)),
        ({"type": "Unmanaged", "status": "True"}, (False, "Unmanaged", True)),
        ({"type": "ReconciliationPaused", "status": "True"}, (False, "ReconciliationPaused", True)),
    ],
)
def test_strimzi_reasons(condition, want):
    verdict = health.strimzi_topic(_topic(condition), now=NOW)
    assert (verdict.ok, verdict.reason, verdict.failed) == want


def test_strimzi_not_reconciled_yet_and_then_the_watched_namespace():
    assert health.strimzi_topic(None).reason == "NotCreated"
    stale = _topic({"type": "Ready", "status": "True"}, observed=0)
    assert health.strimzi_topic(stale, now=NOW).message == "not reconciled by Strimzi yet"
    silent = {**stale, "status": {}}
    message = health.strimzi_topic(silent, now=NOW).message
    assert "cluster 'sensors' watch namespace 'farm'" in message


def test_a_failed_topic_fails_the_condition():
    states = {
        "a": health.Verdict(True, "Ready", "ready"),
        "b": health.Verdict(False, "NotSupported", "NotSupported: rf change", True),
    }
    check = status.topics_check(states, [])
    assert (check.ok, check.failed, check.reason) == (False, True, "TopicNotSupported")


@pytest.mark.parametrize(
    ("served", "want"),
    [
        (["v1", "v1beta2", "v1beta1", "v1alpha1"], "v1"),  # Strimzi 0.49 - 0.51
        (["v1"], "v1"),  # Strimzi 1.x
        (["v1beta2", "v1beta1", "v1alpha1"], "v1beta2"),  # Strimzi 0.48
        (["v1alpha1"], None),
        ([], None),
    ],
)
def test_kafkatopic_version_choice(served, want):
    assert strimzi.choose(served) == want


def test_missing_kafkatopic_api_message_says_what_is_there():
    assert "the group is not served at all" in strimzi.missing_message([])
    assert "it serves only v1alpha1" in strimzi.missing_message(["v1alpha1"])
    assert "topicBackend: admin" in strimzi.missing_message([])


def test_kafkatopic_discovery_is_cached_and_forgotten_on_404():
    asked: list[str] = []

    def served(group: str) -> list[str]:
        asked.append(group)
        return ["v1beta2"]

    api = strimzi.TopicApi(served)
    assert api.resolve() == api.resolve() == KAFKA_TOPICS_V1BETA2
    assert asked == ["kafka.strimzi.io"]
    api.forget()
    api.resolve()
    assert len(asked) == 2
