"""The policy over synthetic traces, through the same window and decision code as production.

Each trace is run in the simulator (tests/unit/scaling/simulator.py): a 6-partition topic whose
consumers each process 50 records/s and commit every 5 s, polled every 10 s.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import pytest

from sensorpipe_operator.scaling.policy import PolicyConfig, Reason, throughput
from tests.unit.scaling.simulator import Group, KedaScaler, OurScaler, Run, simulate

pytestmark = pytest.mark.unit

CONFIG = PolicyConfig(
    min_replicas=1,
    max_replicas=6,
    lag_threshold=500,
    activation_lag=100,
    poll_interval=10,
    catch_up_time=60,
    scale_up_stabilization=0,
    scale_down_stabilization=120,
    cooldown=30,
    max_scale_down_step=1,
)
CAPACITY = 50.0


def run(config, rate, duration, **group_kw) -> tuple[Run, OurScaler]:
    scaler = OurScaler(config)
    group = Group(partitions=group_kw.pop("partitions", 6), capacity=CAPACITY, **group_kw)
    return simulate(group, scaler, rate, duration, config.poll_interval), scaler


def first_time(run_: Run, predicate) -> float:
    return next(t for t, lag in zip(run_.times, run_.lags, strict=True) if predicate(lag))


def reversals_per_window(run_: Run, window: float) -> int:
    """The most changes of direction in any span of ``window`` seconds."""
    times = run_.reversals()
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def backlog_at_start(per_partition: float) -> dict[str, Any]:
    return {
        "ends": [per_partition] * 6,
        "processed": [0.0] * 6,
        "committed": [0] * 6,
    }


def test_step_increase_scales_up_at_the_first_poll_to_what_the_rate_needs():
    def rate(t):
        return 20.0 if t < 60 else 120.0

    result, scaler = run(CONFIG, rate, 600)
    crossed = first_time(result, lambda lag: lag >= CONFIG.lag_threshold)
    first_up = result.changes()[0]
    assert first_up[0] <= crossed + CONFIG.poll_interval
    # 120/s needs 3 consumers of 50/s over 6 partitions (2 partitions each): not the maximum.
    assert result.replicas[-1] == 3
    assert throughput(CAPACITY, 3, 6) >= 120 > throughput(CAPACITY, 2, 6)
    assert max(result.replicas) < CONFIG.max_replicas
    assert result.reversals() == []
    assert scaler.decisions[-1].reason is Reason.STEADY


def test_keda_rule_on_the_same_step_jumps_higher_and_flaps():
    def rate(t):
        return 20.0 if t < 60 else 120.0

    keda = simulate(Group(capacity=CAPACITY), KedaScaler(500, 6), rate, 900, 30)
    ours, _ = run(CONFIG, rate, 900)
    assert max(keda.replicas) > max(ours.replicas)
    assert len(keda.reversals()) > len(ours.reversals()) == 0


def spike(t: float) -> float:
    return 250.0 if 100 <= t < 110 else 10.0


def test_spike_shorter_than_the_up_window_does_not_scale():
    # Two consumers of 100/s: the spike's backlog drains within the up window.
    config = replace(CONFIG, scale_up_stabilization=60)
    without_window = simulate(
        Group(capacity=100), OurScaler(CONFIG), spike, 400, CONFIG.poll_interval
    )
    assert max(without_window.replicas) > 1  # the spike alone would scale
    scaler = OurScaler(config)
    with_window = simulate(Group(capacity=100), scaler, spike, 400, config.poll_interval)
    assert set(with_window.replicas) == {1}
    assert any(d.reason is Reason.UP_STABILIZING for d in scaler.decisions)


def test_slow_ramp_scales_up_stepwise_and_never_down():
    def rate(t: float) -> float:
        return 10.0 + 240.0 * t / 600

    result, _ = run(CONFIG, rate, 600)
    assert result.replicas == sorted(result.replicas)
    assert result.replicas[0] == 1
    steps = [new - old for _, old, new in result.changes()]
    assert len(steps) >= 2  # followed the ramp rather than jumping once
    assert result.replicas[-1] <= CONFIG.max_replicas
    # It kept up: the lag at the end is what the final size drains within the catch-up time.
    final = result.replicas[-1]
    assert throughput(CAPACITY, final, 6) >= rate(600)


def oscillating(t: float) -> float:
    return 180.0 if (t // 60) % 2 else 30.0


def test_oscillating_load_changes_direction_at_most_once_per_window():
    result, _ = run(CONFIG, oscillating, 600)
    assert reversals_per_window(result, CONFIG.scale_down_stabilization) <= 1
    keda = simulate(Group(capacity=CAPACITY), KedaScaler(500, 6), oscillating, 600, 30)
    assert len(keda.reversals()) > len(result.reversals())


def test_slow_oscillation_may_follow_the_load_but_never_faster_than_the_window():
    def slow(t):
        return 180.0 if (t // 300) % 2 else 20.0

    result, _ = run(CONFIG, slow, 1800)
    assert len(result.changes()) >= 2
    assert reversals_per_window(result, CONFIG.scale_down_stabilization) <= 1


def test_drained_backlog_scales_down_stepwise_after_the_window():
    result, scaler = run(CONFIG, lambda _t: 10.0, 600, **backlog_at_start(5000))
    ups = [c for c in result.changes() if c[2] > c[1]]
    downs = [c for c in result.changes() if c[2] < c[1]]
    assert ups
    assert downs
    assert all(old - new == CONFIG.max_scale_down_step for _, old, new in downs)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(downs)]
    assert all(g >= CONFIG.cooldown for g in gaps)
    # The first step down comes only after every recommendation of a full window was lower.
    first_down, top, _ = downs[0]
    window = [
        d.recommended
        for d in scaler.decisions
        if first_down - CONFIG.scale_down_stabilization <= d.time <= first_down
    ]
    assert len(window) >= CONFIG.scale_down_stabilization / CONFIG.poll_interval
    assert max(window) < top
    assert first_down - ups[-1][0] >= CONFIG.scale_down_stabilization
    assert result.replicas[-1] == 1
    assert any(d.reason is Reason.DOWN_STABILIZING for d in scaler.decisions)


def test_never_more_replicas_than_partitions():
    config = replace(CONFIG, max_replicas=10)
    result, _ = run(config, lambda _t: 1000.0, 300, partitions=3)
    assert max(result.replicas) == 3


def test_partitions_without_traffic_do_not_hold_replicas():
    config = replace(CONFIG, max_replicas=10)
    result, scaler = run(config, lambda _t: 400.0, 300, loaded_partitions=2)
    assert max(result.replicas) == 2
    assert "2 with load" in scaler.decisions[-1].message


def test_broker_outage_holds_and_the_window_refills_before_scaling_down():
    def down(t):
        return not 150 <= t < 500

    kwargs = backlog_at_start(5000)
    steady, _ = run(CONFIG, lambda _t: 10.0, 900, **kwargs)
    outage = Group(capacity=CAPACITY, **backlog_at_start(5000))
    scaler = OurScaler(CONFIG)
    result = simulate(outage, scaler, lambda _t: 10.0, 900, 10, reachable=down)
    assert any(t < 500 for t, old, new in steady.changes() if new < old)  # would have scaled
    during = [d for d in scaler.decisions if 150 <= d.time < 500]
    assert during
    assert all(d.reason is Reason.BROKER_UNREACHABLE and d.action == "hold" for d in during)
    first_down = min(t for t, old, new in result.changes() if new < old)
    assert first_down >= 500 + CONFIG.scale_down_stabilization


def test_group_without_commits_scales_on_lag_from_the_earliest_offset_and_says_so():
    group = Group(capacity=CAPACITY, ends=[2000.0] * 6, processed=[0.0] * 6)
    group.committed = [None] * 6
    group.last_commit = math.inf  # the consumers never commit
    scaler = OurScaler(CONFIG)
    result = simulate(group, scaler, lambda _t: 10.0, 200, 10)
    assert result.replicas[-1] > 1
    assert all("no commits yet" in d.message for d in scaler.decisions)
    # Without commits, nothing is known of the consumers' pace: never a scale-down.
    assert result.replicas == sorted(result.replicas)


SPARK = replace(CONFIG, restart_cost=90, min_step=2, commit_interval=10)


def spark_group(**kw) -> Group:
    return Group(capacity=CAPACITY, restart_pause=SPARK.restart_cost, commit_interval=10, **kw)


def test_spark_ignores_a_surge_its_executors_absorb_faster_than_a_restart():
    scaler = OurScaler(SPARK)
    result = simulate(spark_group(), scaler, spike, 600, 10)
    assert set(result.replicas) == {1}
    assert any(d.reason is Reason.RESTART_NOT_JUSTIFIED for d in scaler.decisions)
    consumers = simulate(Group(capacity=CAPACITY), OurScaler(CONFIG), spike, 600, 10)
    assert len(consumers.changes()) > 0


def test_spark_changes_less_often_and_in_larger_steps_than_consumers():
    def rate(t):
        return 10.0 + 240.0 * t / 600

    scaler = OurScaler(SPARK)
    spark = simulate(spark_group(), scaler, rate, 600, 10)
    consumers, _ = run(CONFIG, rate, 600)
    assert 0 < len(spark.changes()) <= len(consumers.changes())
    assert all(abs(new - old) >= SPARK.min_step for _, old, new in spark.changes())
    actions = [d for d in scaler.decisions if d.action != "hold"]
    assert all("restart cost 90s" in d.message for d in actions)
    gaps = [b.time - a.time for a, b in itertools.pairwise(actions)]
    assert all(g >= SPARK.cooldown + SPARK.restart_cost for g in gaps)


def test_spark_keeps_executors_when_a_restart_would_pile_up_more_than_it_drains():
    def rate(t):
        return 20.0 if t < 60 else 120.0

    scaler = OurScaler(SPARK)
    result = simulate(spark_group(), scaler, rate, 900, 10)
    top = max(result.replicas)
    assert result.replicas[-1] == top  # no restart back down: 120/s x 90 s would not drain
    assert scaler.decisions[-1].reason is Reason.RESTART_NOT_JUSTIFIED


def test_spark_below_its_minimum_is_raised_without_weighing_a_restart():
    config = replace(SPARK, min_replicas=2)
    scaler = OurScaler(config)
    result = simulate(spark_group(replicas=0), scaler, lambda _t: 10.0, 60, 10)
    assert result.replicas[0] == 2
    assert scaler.decisions[0].reason is Reason.SCALE_UP
