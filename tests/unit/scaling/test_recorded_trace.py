"""The policy replayed on a trace recorded from the real broker (tests/bench/bench_scaling.py
records it): one consumer of 40 records/s on 6 partitions while the input steps from 20/s
to 200/s, sampled every 0.5 s."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sensorpipe_operator.scaling.policy import PolicyConfig, Reason
from sensorpipe_operator.scaling.window import Snapshot
from tests.unit.scaling.simulator import KedaScaler, OurScaler, reaction, replay

pytestmark = pytest.mark.unit

TRACE = [
    Snapshot.from_dict(d)
    for d in json.loads((Path(__file__).parent / "data" / "recorded_step.json").read_text())
]
CONFIG = PolicyConfig()  # the contract's defaults: 10 s poll, lag threshold 1000


def phases(poll: float) -> list[float]:
    return [i * 0.5 for i in range(int(poll / 0.5))]


def test_the_recording_has_the_step():
    assert len({p.partition for p in TRACE[0].partitions}) == 6
    assert TRACE[0].total_lag < CONFIG.activation_lag
    assert TRACE[-1].total_lag > 3 * CONFIG.lag_threshold


def test_scales_up_within_two_polls_of_the_lag_crossing_the_threshold_at_every_phase():
    for phase in phases(CONFIG.poll_interval):
        took = reaction(TRACE, OurScaler(CONFIG), CONFIG.poll_interval, phase, 1000)
        assert took is not None
        assert took <= 2 * CONFIG.poll_interval, phase


def test_reacts_sooner_than_the_keda_rule_on_the_same_trace():
    ours = [
        reaction(TRACE, OurScaler(CONFIG), CONFIG.poll_interval, p, 1000)
        for p in phases(CONFIG.poll_interval)
    ]
    keda = [reaction(TRACE, KedaScaler(1000, 6), 30.0, p, 1000) for p in phases(30.0)]
    assert None not in ours
    assert None not in keda
    assert sum(ours) / len(ours) < sum(keda) / len(keda)  # type: ignore[arg-type]


def test_nothing_scales_before_the_step_and_never_past_the_partitions():
    scaler = OurScaler(replace(CONFIG, max_replicas=20))
    current = 1
    t = TRACE[0].time
    while t <= TRACE[-1].time:
        snap = replay(TRACE, t)
        desired = scaler(snap, current)
        if snap.total_lag < CONFIG.activation_lag:
            assert desired == current
        current = desired
        t += CONFIG.poll_interval
    assert 1 < current <= 6
    assert scaler.decisions[0].reason is Reason.BELOW_ACTIVATION


def test_an_outage_in_the_middle_of_the_recording_holds():
    outage = [
        Snapshot(time=s.time, group=s.group, error="_TRANSPORT: broker down")
        if TRACE[40].time <= s.time < TRACE[100].time
        else s
        for s in TRACE
    ]
    scaler = OurScaler(CONFIG)
    t = TRACE[0].time
    while t <= TRACE[-1].time:
        scaler(replay(outage, t), 1)
        t += CONFIG.poll_interval
    during = [d for d in scaler.decisions if TRACE[40].time <= d.time < TRACE[100].time]
    assert during
    assert all(d.reason is Reason.BROKER_UNREACHABLE and d.desired == 1 for d in during)
