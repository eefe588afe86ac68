"""The autoscaler's fields in the reconcile plan: written where missing, handed over to the
autoscaler's field manager before the operator applies without them, never drift."""

import copy
from typing import Any

import pytest

from sensorpipe_contract.identity import AUTOSCALER_MANAGER, OPERATOR_MANAGER
from sensorpipe_operator import ownership, plan
from sensorpipe_operator.builders import autoscaled_fields, desired_children
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.settings import Images

from .specs import full, with_change

pytestmark = pytest.mark.unit
UID = "uid-1"
APP = ("SparkApplication", "farm-processing")
CONSUMER = ("Deployment", "farm-consumer-notifier")
FLOOR = ("spec", "dynamicAllocation", "minExecutors")


def _fields(obj: Any) -> dict[str, Any]:
    """managedFields' FieldsV1 of what a manager set (maps field by field, lists whole)."""
    if not isinstance(obj, dict):
        return {}
    return {f"f:{k}": _fields(v) for k, v in obj.items()}


def _entry(manager: str, fields: dict[str, Any], operation: str = "Apply") -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "fieldsV1": _fields(fields)}


def _created(manifest: dict[str, Any], rv: int = 7) -> dict[str, Any]:
    """What the API server holds after the operator's apply created ``manifest``."""
    live = copy.deepcopy(manifest)
    live["metadata"]["resourceVersion"] = str(rv)
    live["metadata"]["managedFields"] = [_entry(OPERATOR_MANAGER, manifest)]
    return live


def _model(spec: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[Any, Any]]:
    model = parse(spec, "farm", "iot")
    children = desired_children(model, Images())
    for c in children:
        c["metadata"]["ownerReferences"] = [{"uid": UID}]
    return children, autoscaled_fields(model)


SPARK = with_change(with_change(full(), "scaling.target", "spark"), "scaling.minReplicas", 2)


def _first(spec: dict[str, Any]) -> dict[plan.ChildKey, dict[str, Any]]:
    desired, scaled = _model(spec)
    return {plan.key_of(m): m for m in plan.make(desired, {}, UID, True, scaled).apply}


def test_a_new_application_starts_at_the_spec_minimum_without_declaring_it_as_desired():
    created = _first(SPARK)[APP]
    assert created["spec"]["dynamicAllocation"] == {
        "enabled": True,
        "maxExecutors": 6,
        "minExecutors": 2,
        "initialExecutors": 2,
    }
    # The digest is of what the operator declares: the floor is not part of it.
    desired, _ = _model(SPARK)
    declared = {plan.key_of(m): m for m in plan.make(desired, {}, UID, True).apply}[APP]
    assert "minExecutors" not in declared["spec"]["dynamicAllocation"]
    annotations = created["metadata"]["annotations"]
    assert annotations == declared["metadata"]["annotations"]
    consumers = _first(with_change(full(), "scaling.minReplicas", 3))
    assert consumers[CONSUMER]["spec"]["replicas"] == 3


def test_a_floor_the_autoscaler_moved_is_neither_drift_nor_written():
    desired, scaled = _model(SPARK)
    live = {k: _created(m) for k, m in _first(SPARK).items()}
    app = live[APP]
    moved = {"spec": {"dynamicAllocation": {"minExecutors": 5, "initialExecutors": 5}}}
    app["spec"]["dynamicAllocation"].update(moved["spec"]["dynamicAllocation"])
    app["metadata"]["managedFields"].append(_entry(AUTOSCALER_MANAGER, moved, "Update"))
    assert plan.make(desired, live, UID, True, scaled).apply == []

    app["spec"]["driver"]["memory"] = "9g"  # a hand edit of a field the operator owns
    todo = plan.make(desired, live, UID, True, scaled)
    [restore] = todo.apply
    assert restore["spec"]["driver"]["memory"] == "1g"
    assert restore["spec"]["dynamicAllocation"] == {"enabled": True, "maxExecutors": 6}
    assert todo.handovers == {}  # the autoscaler owns the floor already


def test_a_floor_only_the_operator_owns_is_handed_over_before_the_next_apply():
    desired, scaled = _model(SPARK)
    live = {k: _created(m, rv=11) for k, m in _first(SPARK).items()}
    changed, _ = _model(with_change(SPARK, "scaling.maxReplicas", 8))
    todo = plan.make(changed, live, UID, True, scaled)
    [apply] = todo.apply
    assert apply["spec"]["dynamicAllocation"] == {"enabled": True, "maxExecutors": 8}
    assert todo.handovers == {
        APP: {
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "SparkApplication",
            "metadata": {"name": "farm-processing", "namespace": "iot", "resourceVersion": "11"},
            "spec": {"dynamicAllocation": {"minExecutors": 2, "initialExecutors": 2}},
        }
    }


def test_a_child_that_becomes_scaled_gets_its_starting_scale():
    live = {k: _created(m) for k, m in _first(full()).items()}  # target consumers
    desired, scaled = _model(SPARK)
    todo = plan.make(desired, live, UID, True, scaled)
    app = {plan.key_of(m): m for m in todo.apply}[APP]
    assert app["spec"]["dynamicAllocation"]["minExecutors"] == 2
    assert "instances" not in app["spec"]["executor"]
    assert APP not in todo.handovers  # nothing to hand over yet: the floor was missing


def test_replicas_the_api_server_defaulted_are_nobodys_and_stay_untouched():
    spec = with_change(full(), "scaling.minReplicas", 3)
    desired, scaled = _model(spec)
    dep = next(m for m in desired if plan.key_of(m) == CONSUMER)
    live = _created(plan.make([dep], {}, UID, True).apply[0])  # made before replicas were set
    live["spec"]["replicas"] = 1  # defaulted: in no manager's fields
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "hand:edit"
    todo = plan.make([dep], {CONSUMER: live}, UID, True, scaled)
    assert "replicas" not in todo.apply[0]["spec"]
    assert todo.handovers == {}


def test_owners_read_managed_fields_of_every_manager_and_subresource():
    live = {
        "metadata": {
            "managedFields": [
                _entry(OPERATOR_MANAGER, {"spec": {"template": {}}}),
                {
                    "manager": AUTOSCALER_MANAGER,
                    "operation": "Update",
                    "subresource": "scale",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}},
                },
            ]
        },
        "spec": {"replicas": 4},
    }
    assert ownership.owners(live, ("spec", "replicas")) == {AUTOSCALER_MANAGER}
    assert ownership.owners(live, ("spec", "template")) == {OPERATOR_MANAGER}
    assert ownership.owners(live, FLOOR) == set()
    assert ownership.leaves({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == [
        ("a", "b"),
        ("a", "c", "d"),
        ("e",),
    ]
