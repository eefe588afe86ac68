from typing import Any

import pytest

from sensorpipe_operator import status

pytestmark = pytest.mark.unit


def _dep(
    replicas: int = 1, available: int = 1, updated: int = 1, generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "availableReplicas": available,
            "updatedReplicas": updated,
        },
    }


def test_deployment_progress():
    assert status.deployment_progress(_dep())[0]
    assert not status.deployment_progress(None)[0]
    assert status.deployment_progress(_dep(available=0))[1] == "0/1 available, 1/1 updated"
    assert status.deployment_progress(_dep(observed=1))[1] == "rollout not observed yet"
    assert status.deployment_progress(_dep(replicas=0, available=0, updated=0))[0]


@pytest.mark.parametrize(
    ("state", "ok", "reason", "failed"),
    [
        ("RUNNING", True, "Running", False),
        ("SUBMITTED", False, "SparkSubmitted", False),
        ("", False, "SparkNotSubmitted", False),
        ("FAILED", False, "SparkFailed", True),
    ],
)
def test_processing_check(state, ok, reason, failed):
    app = {"status": {"applicationState": {"state": state}}}
    check = status.processing_check(app, {})
    assert (check.ok, check.reason, check.failed) == (ok, reason, failed)


def test_processing_waits_for_consumers():
    app = {"status": {"applicationState": {"state": "RUNNING"}}}
    check = status.processing_check(app, {"n": _dep(available=0)})
    assert not check.ok
    assert "consumer n" in check.message


def test_compute_phases_and_ready():
    ok = status.Check(True, "R", "m")
    wait = status.Check(False, "W", "m")
    bad = status.Check(False, "B", "m", failed=True)
    ready = status.compute(3, {status.TOPICS: ok, status.PROCESSING: ok, status.GATEWAYS: ok})
    assert ready["phase"] == "Ready"
    assert ready["observedGeneration"] == 3
    assert [c["type"] for c in ready["conditions"]] == [
        "TopicsReady",
        "ProcessingReady",
        "GatewaysReady",
        "Ready",
        "Reconciling",
        "Stalled",
    ]
    assert all(c["observedGeneration"] == 3 for c in ready["conditions"])
    assert status.compute(1, {status.TOPICS: wait, status.PROCESSING: ok})["phase"] == "Progressing"
    degraded = status.compute(1, {status.TOPICS: bad, status.PROCESSING: wait})
    assert degraded["phase"] == "Degraded"
    assert _cond(degraded, "Ready")["message"] == "TopicsReady: m"
    assert status.invalid(1, "spec.x: bad")["phase"] == "Failed"


def _cond(st: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next(c for c in st["conditions"] if c["type"] == ctype)


@pytest.mark.parametrize(
    ("checks", "ready", "reconciling", "stalled"),
    [
        ({"TopicsReady": status.Check(True, "R", "m")}, "True", "False", "False"),
        ({"TopicsReady": status.Check(False, "SparkRestarting", "m")}, "False", "True", "False"),
        ({"TopicsReady": status.Check(False, "SparkFailed", "m", True)}, "False", "False", "True"),
    ],
)
def test_kstatus_conditions_follow_the_verdicts(checks, ready, reconciling, stalled):
    """kstatus (kubectl wait, Flux, Argo CD) reads Ready, Reconciling and Stalled: work in
    flight is Reconciling, a failure that needs a person is Stalled, never both."""
    st = status.compute(2, checks)
    got = [_cond(st, t)["status"] for t in ("Ready", "Reconciling", "Stalled")]
    assert got == [ready, reconciling, stalled]
    if stalled == "True":
        assert _cond(st, "Stalled")["reason"] == "SparkFailed"
    if reconciling == "True":
        assert _cond(st, "Reconciling")["reason"] == "SparkRestarting"
    invalid = status.invalid(2, "spec.x: bad")
    assert [_cond(invalid, t)["status"] for t in ("Ready", "Stalled")] == ["False", "True"]


def test_write_touches_only_changed_owned_keys_and_keeps_transition_times():
    desired = status.compute(1, {status.TOPICS: status.Check(True, "R", "m")})
    patch: dict[str, Any] = {}
    written = status.write(patch, {"scaling": {"totalLag": 5}}, desired)
    assert set(written) == {"observedGeneration", "phase", "conditions"}
    assert "scaling" not in patch
    current = {**patch, "scaling": {"totalLag": 5}}
    again: dict[str, Any] = {}
    assert status.write(again, current, desired) == {}
    assert again == {}
    flipped = status.compute(1, {status.TOPICS: status.Check(False, "W", "m")})
    third: dict[str, Any] = {}
    status.write(third, current, flipped)
    old_times = {c["type"]: c["lastTransitionTime"] for c in current["conditions"]}
    new = {c["type"]: c for c in third["conditions"]}
    assert new["TopicsReady"]["status"] == "False"
    kept = status.with_transition_times(
        desired["conditions"], current["conditions"], now="2000-01-01T00:00:00Z"
    )
    assert [c["lastTransitionTime"] for c in kept] == list(old_times.values())
