"""The pure detectors on the edge simulator's own signals and faults (no Spark).

An hour of normal and faulty simulated devices (tests/simulated_faults.py) goes through one
:class:`Detector` per device and stream, in time order, the way the Spark job feeds them;
silence is asked for at the watermark the job would have at the end of the hour. Each fault
must raise its alerts, and the devices without a fault that alerts can see must stay quiet.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from sensorpipe_spark.detect import Alert
from tests import simulated_faults as sim

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Any], list[Alert]]:
    fleets = sim.fleets()
    return fleets, sim.detect(fleets)


def of(alerts: list[Alert], fleet: str, kind: str) -> list[Alert]:
    return [a for a in alerts if sim.fleet_of(a.device_id) == fleet and a.kind == kind]


def test_devices_without_an_alertable_fault_stay_quiet(run):
    _, alerts = run
    false = [a for a in alerts if sim.fleet_of(a.device_id) in sim.QUIET]
    print(f"false alarms in an hour of {sim.NORMAL_DEVICES + 2} quiet devices: {len(false)}")
    for a in false:
        print("  ", a.device_id, a.kind, a.message)
    assert len(false) <= sim.FALSE_ALARM_BOUND


def test_each_spike_is_hot_a_jump_and_an_anomaly(run):
    fleets, alerts = run
    spikes = sim.spikes(fleets["spike"], 0)
    judged = sim.spikes(fleets["spike"], sim.rules().alerts.min_samples)
    assert len(judged) >= 3  # the seed gives the hour several spikes after the warm-up
    assert [a.event_time for a in of(alerts, "spike", "threshold")] == spikes
    jumps = {(a.event_time, a.field) for a in of(alerts, "spike", "jump")}
    anomalies = {(a.event_time, a.field) for a in of(alerts, "spike", "anomaly")}
    for t in judged:
        # humidity near 75 gains less than its 30 maxDelta when clipped at 100: no jump
        assert (t, "temperature") in jumps
        assert {(t, "temperature"), (t, "humidity")} <= anomalies


def test_a_stuck_device_fires_once_per_numeric_field_after_ten_minutes(run):
    fleets, alerts = run
    onset = fleets["stuck"].onset_tick * sim.INTERVAL_MS
    stuck = of(alerts, "stuck", "stuck")
    assert sorted(a.field or "" for a in stuck) == ["distance", "humidity", "temperature"]
    # the run of equal values starts at the onset, or earlier if the last free value matched
    assert all(onset + 540_000 <= a.event_time <= onset + 600_000 for a in stuck)
    assert [a for a in alerts if a.device_id.startswith("stuck") and a.kind != "stuck"] == []


def test_a_silent_device_is_reported_once_per_stream(run):
    fleets, alerts = run
    onset = fleets["silent"].onset_tick * sim.INTERVAL_MS
    silent = of(alerts, "silent", "silence")
    assert sorted(a.stream for a in silent) == ["climate", "distance", "motion"]
    assert {a.event_time for a in silent} == {onset - sim.INTERVAL_MS}
    assert Counter(a.kind for a in alerts if a.device_id.startswith("silent")) == {"silence": 3}
