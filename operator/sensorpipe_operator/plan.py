"""What a reconcile must write: desired children against the live ones, decided in memory.

Pure, so the decisions (apply, delete, keep, refuse) are unit-tested without a cluster;
the engine carries them out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_operator import ownership
from sensorpipe_operator.compare import needs_apply, stamp

ChildKey = tuple[str, str]  # (kind, name)


def key_of(obj: Mapping[str, Any]) -> ChildKey:
    return obj["kind"], obj["metadata"]["name"]


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid for ref in refs)


@dataclass
class Plan:
    apply: list[dict[str, Any]] = field(default_factory=list)
    delete: list[ChildKey] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    desired: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)
    # Applies as the autoscaler's field manager that must succeed before the child's own
    # apply, or that apply would delete the autoscaler's fields (see ``ownership``).
    handovers: dict[ChildKey, dict[str, Any]] = field(default_factory=dict)


def _refuse_partition_decrease(
    want: dict[str, Any], live: Mapping[str, Any] | None, refused: list[str]
) -> None:
    """Kafka cannot shrink a topic; keep the live count and say so, as Strimzi does."""
    if live is None or want["kind"] != "KafkaTopic":
        return
    have = (live.get("spec") or {}).get("partitions", 0)
    if have > want["spec"]["partitions"]:
        refused.append(
            f"topic {want['spec']['topicName']} has {have} partitions; decreasing to "
            f"{want['spec']['partitions']} is not possible in Kafka (recreate it to shrink)"
        )
        want["spec"]["partitions"] = have


def make(
    desired: list[dict[str, Any]],
    live: Mapping[ChildKey, Mapping[str, Any]],
    owner_uid: str,
    keep_topics: bool,
    autoscaled: Mapping[ChildKey, Mapping[str, Any]] | None = None,
) -> Plan:
    """Compare the (unstamped) desired children with the live ones of the same pipeline.

    ``autoscaled`` names, per child, the fields the autoscaler owns with their starting
    values: a child that is written gets those it lacks, and the autoscaler is handed those
    only the operator owns; they never count as drift.
    """
    plan = Plan()
    for child in desired:
        want = copy.deepcopy(child)
        key = key_of(want)
        current = live.get(key)
        _refuse_partition_decrease(want, current, plan.refused)
        stamp(want)
        plan.desired[key] = want
        if not needs_apply(want, dict(current) if current is not None else None):
            continue
        scaled = (autoscaled or {}).get(key, {})
        plan.apply.append(ownership.with_missing(want, scaled, current))
        handover = ownership.handover(want, scaled, current)
        if handover is not None:
            plan.handovers[key] = handover
    for key, obj in live.items():
        if key in plan.desired or (key[0] == "KafkaTopic" and keep_topics):
            continue  # a topic of a removed stream keeps its data unless asked otherwise
        if owned_by(obj, owner_uid):
            plan.delete.append(key)
    return plan
