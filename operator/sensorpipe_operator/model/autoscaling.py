"""The autoscaler's settings of a pipeline (``spec.scaling``)."""

from __future__ import annotations

from dataclasses import dataclass

from sensorpipe_operator.model.cursor import Cursor
from sensorpipe_operator.model.errors import SpecError

SCALING_TARGETS = ("consumers", "spark")


@dataclass(frozen=True)
class Scaling:
    enabled: bool = False
    target: str = "consumers"
    min_replicas: int = 1
    max_replicas: int = 6
    lag_threshold: int = 1000
    activation_lag: int = 100
    poll_interval: float = 10.0
    catch_up_time: float = 60.0
    scale_up_stabilization: float = 0.0
    scale_down_stabilization: float = 120.0
    cooldown: float = 30.0
    max_scale_down_step: int = 1


def parse_scaling(cur: Cursor) -> Scaling:
    scaling = Scaling(
        enabled=cur.boolean("enabled", False),
        target=cur.string("target", "consumers", choices=SCALING_TARGETS),
        min_replicas=cur.integer("minReplicas", 1, 0, 1000),
        max_replicas=cur.integer("maxReplicas", 6, 1, 1000),
        lag_threshold=cur.integer("lagThreshold", 1000, 1, 2**31 - 1),
        activation_lag=cur.integer("activationLag", 100, 0, 2**31 - 1),
        poll_interval=cur.duration("pollInterval", "10s"),
        catch_up_time=cur.duration("catchUpTime", "60s"),
        scale_up_stabilization=cur.duration("scaleUpStabilization", "0s"),
        scale_down_stabilization=cur.duration("scaleDownStabilization", "120s"),
        cooldown=cur.duration("cooldown", "30s"),
        max_scale_down_step=cur.integer("maxScaleDownStep", 1, 1, 1000),
    )
    if scaling.min_replicas > scaling.max_replicas:
        raise SpecError(cur.at("minReplicas"), "must not exceed maxReplicas")
    if scaling.poll_interval <= 0:
        raise SpecError(cur.at("pollInterval"), "must be above zero")
    return scaling
