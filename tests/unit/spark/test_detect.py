"""Each alert rule fires on its fault, once, and stays quiet on normal values."""

import math
import random

import pytest

from sensorpipe_contract.runtime import AlertSpec, ThresholdRule
from sensorpipe_spark.detect import (
    MAX_HISTORY,
    Alert,
    Detector,
    Rules,
    robust_z,
    run,
    z_threshold,
)

pytestmark = pytest.mark.unit

HOT = ThresholdRule(
    name="hot", stream="climate", field="temperature", above=70.0, below=None, severity="critical"
)
COLD = ThresholdRule(
    name="cold", stream="climate", field="temperature", above=None, below=-10.0, severity="warning"
)
RULES = Rules(
    alerts=AlertSpec(
        thresholds=(HOT, COLD),
        z_score=3.5,
        history=3600.0,
        min_samples=20,
        jump_enabled=True,
        max_delta={"temperature": 10.0},
        stuck_after=600.0,
        silence_after=300.0,
    ),
    boolean_fields=frozenset({("climate", "door")}),
)


def normal(
    n: int, start: int = 0, step_ms: int = 10_000, seed: int = 1
) -> list[tuple[int, dict[str, float]]]:
    rnd = random.Random(seed)
    return [(start + i * step_ms, {"temperature": 21.0 + rnd.gauss(0, 0.3)}) for i in range(n)]


def kinds(alerts: list[Alert]) -> list[str]:
    return [a.kind for a in alerts]


# Gaussian noise exceeds a robust z of 3.5 about 5 times in 10,000 draws, more while the
# history is short; the stated bound for false anomalies is 0.5% of readings.
FALSE_ANOMALY_BOUND = 0.005


def test_normal_signal_raises_no_rule_alert_and_few_anomalies():
    readings = [r for seed in range(5) for r in normal(360, seed=seed)]
    alerts = [
        a for seed in range(5) for a in run(RULES, "d1", "climate", normal(360, seed=seed))[0]
    ]
    assert {a.kind for a in alerts} <= {"anomaly"}
    assert len(alerts) <= FALSE_ANOMALY_BOUND * len(readings)


def test_threshold_fires_once_on_entering_violation_and_again_after_recovery():
    readings = normal(30) + [
        (300_000 + i * 10_000, {"temperature": v}) for i, v in enumerate([75, 76, 77, 21, 72])
    ]
    alerts, _ = run(RULES, "d1", "climate", readings)
    hot = [a for a in alerts if a.kind == "threshold"]
    assert [(a.rule, a.value, a.threshold, a.severity) for a in hot] == [
        ("hot", 75.0, 70.0, "critical"),
        ("hot", 72.0, 70.0, "critical"),
    ]


def test_below_rule():
    alerts, _ = run(
        RULES, "d1", "climate", [(0, {"temperature": 5.0}), (1000, {"temperature": -11.0})]
    )
    assert [(a.rule, a.threshold) for a in alerts if a.kind == "threshold"] == [("cold", -10.0)]


def test_spike_is_a_jump_and_an_anomaly():
    readings = [*normal(60), (600000, {"temperature": 40.0})]
    alerts, _ = run(RULES, "d1", "climate", readings)
    assert sorted(kinds(alerts)) == ["anomaly", "jump"]
    assert all(a.event_time == 600_000 and a.value == 40.0 for a in alerts)


def test_ramp_below_the_jump_limit_is_an_anomaly_only():
    readings = normal(60) + [
        (600_000 + i * 10_000, {"temperature": 21.0 + 5 * (i + 1)}) for i in range(3)
    ]
    alerts, _ = run(RULES, "d1", "climate", readings)
    assert "jump" not in kinds(alerts)
    assert "anomaly" in kinds(alerts)


def test_anomaly_needs_min_samples():
    readings = [*normal(10), (100000, {"temperature": 35.0})]
    alerts, _ = run(RULES, "d1", "climate", readings)
    assert kinds(alerts) == ["jump"]


def test_stuck_fires_once_per_run_after_the_duration():
    readings = normal(30) + [(300_000 + i * 10_000, {"temperature": 22.5}) for i in range(100)]
    alerts, _ = run(RULES, "d1", "climate", readings)
    stuck = [a for a in alerts if a.kind == "stuck"]
    assert len(stuck) == 1
    assert stuck[0].event_time == 300_000 + 600_000


def test_boolean_fields_only_get_thresholds():
    readings = [(i * 1000, {"door": float(i % 2)}) for i in range(2000)]
    alerts, _ = run(RULES, "d1", "climate", readings)
    assert alerts == []


def test_silence_fires_once_after_the_deadline_and_rearms_on_a_reading():
    det = Detector(RULES, "d1", "climate", None)
    det.observe(1_000, {"temperature": 20.0})
    assert det.silence_deadline() == 301_000
    assert det.silence(300_000) == []
    [alert] = det.silence(302_000)
    assert (alert.kind, alert.event_time, alert.threshold, alert.field) == (
        "silence",
        1_000,
        300.0,
        None,
    )
    assert det.silence(400_000) == []
    det.observe(500_000, {"temperature": 20.0})
    assert len(det.silence(900_000)) == 1


def test_state_survives_a_round_trip_through_json():
    import json

    readings = normal(100)
    _, state = run(RULES, "d1", "climate", readings[:50])
    restored = json.loads(json.dumps(state))
    split, _ = run(
        RULES, "d1", "climate", [*readings[50:], (2000000, {"temperature": 60.0})], restored
    )
    whole, _ = run(RULES, "d1", "climate", [*readings, (2000000, {"temperature": 60.0})])
    assert split == whole


def test_history_is_bounded():
    _, state = run(RULES, "d1", "climate", normal(2 * MAX_HISTORY, step_ms=1000))
    assert len(state["fields"]["temperature"]["hist"]) == MAX_HISTORY


def _timed(values: list[float], step_ms: int = 1000) -> list[tuple[int, float]]:
    return [(i * step_ms, v) for i, v in enumerate(values)]


def test_robust_z_falls_back_when_mad_is_zero():
    assert robust_z(5.0, 10_000, _timed([1.0] * 10)) is None
    z = robust_z(3.0, 10_000, _timed([1.0] * 9 + [2.0]))
    assert z is not None
    assert z > 3.5


def test_robust_z_measures_against_the_trend_not_the_past_level():
    line = _timed([1.0, 2.0, 3.0, 4.0, 5.0])
    assert robust_z(6.0, 5000, line) == pytest.approx(0.0)
    # no spread around the line: the scale comes from the steps between readings
    assert robust_z(10.0, 5000, line) == pytest.approx(4.0 * 0.6745 * math.sqrt(2))


def test_a_quantised_signal_keeps_a_realistic_scale():
    """Half of a short history on the two grid points around its median: the MAD alone
    would be 0.05 and call a 0.45 step a 6-sigma event."""
    values = [14.9, 14.7, 14.5, 14.2, 14.1, 14.6, 14.6, 14.5, 14.8, 14.1]
    values += [14.9, 14.5, 14.7, 14.5, 14.5, 14.6, 14.6, 14.5, 13.9, 14.6]
    z = robust_z(14.1, 20_000, _timed(values))
    assert z is not None
    assert abs(z) < 3.5


def test_the_threshold_widens_for_a_short_history_and_tends_to_the_spec():
    limits = [z_threshold(3.5, n) for n in (20, 60, 100, 600, 10**7)]
    assert limits == sorted(limits, reverse=True)
    assert 5.5 < limits[0] < 7.0
    assert limits[-1] == pytest.approx(3.5, abs=1e-3)


def test_a_daily_cycle_is_not_an_anomaly():
    """Two degrees an hour (a steep part of a daily cycle) under 0.3 of noise, for an hour."""
    rnd = random.Random(4)
    readings = [
        (i * 10_000, {"temperature": round(15.0 + 2.0 * i / 360 + rnd.gauss(0, 0.3), 1)})
        for i in range(360)
    ]
    alerts, _ = run(RULES, "d1", "climate", readings)
    assert alerts == []


def test_a_reading_seen_before_is_judged_once():
    det = Detector(RULES, "d1", "climate", None)
    assert det.observe(1_000, {"temperature": 75.0}, seq=7) != []
    det.observe(2_000, {"temperature": 20.0}, seq=8)
    assert det.observe(1_000, {"temperature": 75.0}, seq=7) == []
    assert det.state["last"] == 2_000
    det.forget_before(1_500)
    assert set(det.state["seen"]) == {"8"}


def test_a_rebooted_device_reusing_a_sequence_number_is_judged_again():
    """Issue 18: after a reboot the counter starts again; the same seq in a new boot epoch
    is a new reading (it used to be ignored as seen), and epoch 0 keeps the old state keys."""
    det = Detector(RULES, "d1", "climate", None)
    det.observe(1_000, {"temperature": 20.0}, seq=3)
    assert det.observe(5_000, {"temperature": 75.0}, seq=3, boot=1) != []
    assert det.observe(5_000, {"temperature": 75.0}, seq=3, boot=1) == []
    assert set(det.state["seen"]) == {"3", "1:3"}


def test_anomalies_only_on_the_listed_fields():
    rules = Rules(alerts=AlertSpec(anomaly_fields=frozenset({"humidity"}), min_samples=20))
    base = [(i * 10_000, {"temperature": 21.0, "humidity": 50.0 + (i % 3)}) for i in range(30)]
    step = (300_000, {"temperature": 40.0, "humidity": 90.0})
    alerts, _ = run(rules, "d1", "climate", [*base, step])
    assert [(a.kind, a.field) for a in alerts if a.kind == "anomaly"] == [("anomaly", "humidity")]


def test_level_shift_raises_one_anomaly_not_one_per_reading() -> None:
    shifted = [(600_000 + i * 10_000, {"temperature": 35.0}) for i in range(50)]
    alerts, _ = run(RULES, "d1", "climate", [*normal(60), *shifted])
    assert kinds(alerts).count("anomaly") == 1
