import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorpipe_contract.identity import APPLIED_ANNOTATION
from sensorpipe_operator import plan
from sensorpipe_operator.builders import desired_children
from sensorpipe_operator.compare import contains, needs_apply, quantity, stamp
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.settings import Images

from .specs import full, with_change

pytestmark = pytest.mark.unit
UID = "uid-1"


def _as_live(manifest: dict[str, Any], rv: int = 1) -> dict[str, Any]:
    """What the API server returns: our fields plus defaults, status and bookkeeping."""
    live = copy.deepcopy(manifest)
    live["metadata"].update(resourceVersion=str(rv), uid=f"u-{rv}", generation=1)
    live["metadata"]["ownerReferences"] = [{"uid": UID, "kind": "SensorPipeline", "name": "farm"}]
    live.setdefault("status", {})["observedGeneration"] = 1
    if live["kind"] == "Deployment":
        live["spec"].setdefault("replicas", 1)
        live["spec"]["revisionHistoryLimit"] = 10
        live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = (
            "/dev/termination-log"
        )
    return live


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("500m", "0.5", True),
        ("1Gi", "1024Mi", True),
        ("1G", "1000M", True),
        ("64Mi", "64M", False),
        ("1", "1000m", True),
        ("x", "x", True),
        ("x", "y", False),
    ],
)
def test_quantities_compare_by_value(a, b, equal):
    assert contains({"cpu": a}, {"cpu": b}) is equal


@given(st.integers(min_value=0, max_value=10**6))
def test_quantity_units(n):
    assert quantity(f"{n}Ki") == quantity(str(n * 1024))
    assert quantity(f"{n}m") == Decimal(n) / 1000


def test_contains_allows_extra_and_absent_empties():
    assert contains({"a": 1, "b": [], "c": {}}, {"a": 1, "z": 2})
    assert not contains({"a": 1}, {"a": 2})
    assert not contains({"a": [1, 2]}, {"a": [1]})
    assert contains({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 2}]})
    assert not contains({"a": True}, {"a": 1})


def test_stamp_marks_the_digest_and_needs_apply_follows_it():
    want = stamp(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"},
            "data": {"k": "v"},
        }
    )
    assert want["metadata"]["annotations"][APPLIED_ANNOTATION]
    live = _as_live(want)
    assert not needs_apply(want, live)
    assert needs_apply(want, None)
    edited = copy.deepcopy(live)
    edited["data"]["k"] = "hand-edited"
    assert needs_apply(want, edited)
    foreign = copy.deepcopy(live)
    foreign["metadata"]["annotations"][APPLIED_ANNOTATION] = "older"
    assert needs_apply(want, foreign)


def _desired(spec: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    model = parse(spec or full(), "farm", "iot")
    children = desired_children(model, Images())
    for c in children:
        c["metadata"]["ownerReferences"] = [{"uid": UID}]
    return children


def test_first_reconcile_applies_everything_then_nothing():
    desired = _desired()
    first = plan.make(desired, {}, UID, keep_topics=True)
    assert len(first.apply) == len(desired)
    live = {plan.key_of(m): _as_live(m) for m in first.apply}
    second = plan.make(desired, live, UID, keep_topics=True)
    assert (second.apply, second.delete, second.refused) == ([], [], [])


def test_spec_change_applies_exactly_the_affected_children():
    live = {plan.key_of(m): _as_live(m) for m in plan.make(_desired(), {}, UID, True).apply}
    changed = plan.make(_desired(with_change(full(), "gateways.0.replicas", 0)), live, UID, True)
    assert [plan.key_of(m) for m in changed.apply] == [("Deployment", "farm-gw-bench")]
    changed = plan.make(
        _desired(with_change(full(), "kafka.topicDefaults.retention", "1d")), live, UID, True
    )
    assert {k for k, _ in map(plan.key_of, changed.apply)} == {"KafkaTopic"}


def test_removed_children_are_deleted_but_topics_kept():
    live = {plan.key_of(m): _as_live(m) for m in plan.make(_desired(), {}, UID, True).apply}
    spec = with_change(full(), "gateways", [])
    spec = with_change(spec, "streams", full()["streams"][:1])
    spec = with_change(spec, "processing.alerts.thresholds", [])
    spec = with_change(spec, "processing.alerts.jump", {"enabled": False})
    todo = plan.make(_desired(spec), live, UID, keep_topics=True)
    assert set(todo.delete) == {
        ("Deployment", "farm-gw-bench"),
        ("ConfigMap", "farm-gw-bench"),
        ("ServiceAccount", "farm-gateway"),
    }
    dropping = plan.make(_desired(spec), live, UID, keep_topics=False)
    assert {("KafkaTopic", "farm-stream-motion"), ("KafkaTopic", "farm-stream-distance")} <= set(
        dropping.delete
    )
    foreign = {
        k: {**v, "metadata": {**v["metadata"], "ownerReferences": []}} for k, v in live.items()
    }
    assert plan.make(_desired(spec), foreign, UID, True).delete == []


def test_partition_decrease_is_refused_and_the_live_count_kept():
    live = {plan.key_of(m): _as_live(m) for m in plan.make(_desired(), {}, UID, True).apply}
    smaller = with_change(full(), "streams.0.partitions", 2)
    todo = plan.make(_desired(smaller), live, UID, True)
    assert todo.refused
    assert "farm.climate has 6 partitions; decreasing to 2" in todo.refused[0]
    assert todo.desired[("KafkaTopic", "farm-stream-climate")]["spec"]["partitions"] == 6
    assert ("KafkaTopic", "farm-stream-climate") not in [plan.key_of(m) for m in todo.apply]
    bigger = plan.make(_desired(with_change(full(), "streams.0.partitions", 9)), live, UID, True)
    assert not bigger.refused
    assert [plan.key_of(m) for m in bigger.apply] == [("KafkaTopic", "farm-stream-climate")]
