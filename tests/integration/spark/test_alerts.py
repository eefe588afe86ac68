"""Alerts on real Spark and Kafka: each fault fires its rule, an hour of normal data stays quiet.

Eight devices send an hour of normal climate readings (a slow daily swing plus sensor noise,
one reading every 10 s); five more devices send the same until a fault starts at minute 30:
overheating, a spike, a steady drift, a stuck value, and silence. The job drains it once and
the alerts topic is compared with what each fault should raise.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sensorpipe_spark import config, schema, streaming
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration

STEP = 10_000
N = 360  # an hour at one reading every 10 s
FAULT_AT = 180  # minute 30
NORMAL_DEVICES = [f"n{i}" for i in range(8)]
# Gaussian noise passes a robust z of 3.5 about 5 times in 10,000 readings; the stated bound
# for false anomaly alerts on normal data is 0.5% of the readings.
FALSE_ANOMALY_BOUND = 0.005

Fault = Callable[
    [int, float], float | None
]  # (index, normal temperature) -> value or None (silent)


def series(device: str, fault: Fault | None = None) -> list[dict[str, Any]]:
    rnd = random.Random(device)
    out = []
    for i in range(N):
        t = h.T0 + i * STEP
        temp = 21.0 + 1.5 * math.sin(2 * math.pi * i * STEP / 10_800_000) + rnd.gauss(0, 0.2)
        hum = 50.0 + rnd.gauss(0, 1.0)
        if fault is not None and i >= FAULT_AT:
            faulty = fault(i, temp)
            if faulty is None:
                continue
            temp = faulty
        out.append(
            h.reading(
                device, "climate", i, t, {"temperature": round(temp, 3), "humidity": round(hum, 3)}
            )
        )
    return out


FAULTS: dict[str, Fault | None] = {
    "f-hot": lambda _i, _t: 75.0,
    "f-spike": lambda i, t: t + 25.0 if i == FAULT_AT else t,
    "f-drift": lambda i, t: t + 3.0 * min(i - FAULT_AT + 1, 6),
    "f-stuck": lambda _i, _t: 22.0,
    "f-silent": lambda _i, _t: None,
}


@pytest.fixture(scope="module")
def alerts(
    spark: SparkSession, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    name = f"spa-{secrets.token_hex(3)}"
    base = tmp_path_factory.mktemp(name)
    doc = h.pipeline_doc(name, kafka_bootstrap, str(base / "lake"), str(base / "ck"), None)
    h.create_topics(kafka_bootstrap, h.topics_of(doc))
    readings = [r for d in NORMAL_DEVICES for r in series(d)]
    readings += [r for d, fault in FAULTS.items() for r in series(d, fault)]
    h.produce_readings(kafka_bootstrap, name, readings)
    job = streaming.StreamingJob(spark, config.from_document(doc), schema.load())
    job.ensure_sinks()
    job.drain(("ingest", "alerts"))  # the aggregates are tested in test_streaming
    return h.consume_json(kafka_bootstrap, doc["topics"]["alerts"])


def fault_time(i: int = FAULT_AT) -> int:
    return h.T0 + i * STEP


def of(alerts: list[dict[str, Any]], device: str, kind: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["device_id"] == device and a["kind"] == kind]


def test_normal_hour_raises_no_rule_alert_and_few_anomalies(alerts: list[dict[str, Any]]) -> None:
    normal = [a for a in alerts if a["device_id"] in NORMAL_DEVICES]
    kinds = Counter(a["kind"] for a in normal)
    assert set(kinds) <= {"anomaly"}, kinds
    readings = len(NORMAL_DEVICES) * N * 2  # two fields each
    assert kinds["anomaly"] <= FALSE_ANOMALY_BOUND * readings, kinds
    # (a silence alert carries the time the device was last heard, just before its fault)
    before_fault = [
        a
        for a in alerts
        if a["device_id"] in FAULTS and a["event_time"] < fault_time() and a["kind"] != "silence"
    ]
    assert {a["kind"] for a in before_fault} <= {"anomaly"}
    assert len(before_fault) <= FALSE_ANOMALY_BOUND * len(FAULTS) * FAULT_AT * 2


def test_threshold_fires_once_when_the_device_overheats(alerts: list[dict[str, Any]]) -> None:
    [hot] = of(alerts, "f-hot", "threshold")
    assert (hot["rule"], hot["severity"], hot["value"], hot["threshold"]) == (
        "hot",
        "critical",
        75.0,
        70.0,
    )
    assert hot["event_time"] == fault_time()
    assert hot["field"] == "temperature"
    assert hot["pipeline"].startswith("spa-")


def test_spike_is_a_jump_and_an_anomaly(alerts: list[dict[str, Any]]) -> None:
    up, down = sorted(of(alerts, "f-spike", "jump"), key=lambda a: a["event_time"])
    assert (up["event_time"], down["event_time"]) == (fault_time(), fault_time(FAULT_AT + 1))
    assert up["threshold"] == 10.0
    assert fault_time() in {a["event_time"] for a in of(alerts, "f-spike", "anomaly")}


def test_drift_below_the_jump_limit_is_an_anomaly(alerts: list[dict[str, Any]]) -> None:
    assert of(alerts, "f-drift", "jump") == []
    assert any(a["event_time"] >= fault_time() for a in of(alerts, "f-drift", "anomaly"))


def test_a_lasting_fault_raises_one_anomaly_not_a_storm(alerts: list[dict[str, Any]]) -> None:
    after = [a for a in of(alerts, "f-hot", "anomaly") if a["event_time"] >= fault_time()]
    assert [a["event_time"] for a in after][:1] == [fault_time()]
    assert len(after) <= 3


def test_stuck_sensor_fires_once_after_ten_minutes(alerts: list[dict[str, Any]]) -> None:
    [stuck] = of(alerts, "f-stuck", "stuck")
    assert stuck["event_time"] == fault_time() + 600_000
    assert stuck["value"] == 22.0


def test_silent_device_is_reported(alerts: list[dict[str, Any]]) -> None:
    [silent] = of(alerts, "f-silent", "silence")
    assert silent["event_time"] == fault_time(FAULT_AT - 1)
    assert silent["severity"] == "critical"
    assert silent["threshold"] == 300.0
    assert all(of(alerts, d, "silence") == [] for d in NORMAL_DEVICES)
