"""The seeds' producers, as they wrote their payloads, and the mappings that take them in.

Two of the five seed write-ups (docs/seeds.md) show their producer's code:

- 002 (Kafka ``iot_topic``, kafka-python ``KafkaProducer`` with ``json.dumps``, no key):
  ``{"device_id": "device_1".."device_3", "temperature": 20..80, "humidity": 30..90,
  "timestamp": int(time.time())}``;
- 004 (Kinesis, the same records straight into Kafka here): ``{"sensor_id": 1..100,
  "timestamp": ms, "temperature": 20..30, "humidity": 30..70, "pressure": 1.0..1.5}``,
  an integer device id and a member (pressure) the climate stream does not have.

The other three (an Arduino through EMQX, ``producer.py`` of 001, the vehicles of 003) do
not show their payloads. The mappings are what a user writes under
``spec.gateways[].source.payload`` for the climate stream of ``tests.streams``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.model.pipeline import parse
from tests.unit.operator.specs import full, with_change

SEED_002_MAPPING: dict[str, Any] = {
    "stream": "climate",
    "deviceId": "device_id",
    "time": "timestamp",
    "timeUnit": "s",
}
SEED_004_MAPPING: dict[str, Any] = {
    "stream": "climate",
    "deviceId": "sensor_id",
    "time": "timestamp",
    "timeUnit": "ms",
}


def seed_002_message(rng: random.Random, now: float) -> dict[str, Any]:
    """One message of seed 002's producer loop, exactly as it builds it."""
    iot_device_ids = ["device_1", "device_2", "device_3"]
    return {
        "device_id": rng.choice(iot_device_ids),
        "temperature": round(rng.uniform(20.0, 80.0), 2),
        "humidity": round(rng.uniform(30.0, 90.0), 2),
        "timestamp": int(now),
    }


def seed_004_message(rng: random.Random, now: float) -> dict[str, Any]:
    """One record of seed 004's ``generate_sensor_data``, exactly as it builds it."""
    return {
        "sensor_id": rng.randint(1, 100),
        "timestamp": int(now * 1000),
        "temperature": round(rng.uniform(20.0, 30.0), 2),
        "humidity": round(rng.uniform(30.0, 70.0), 2),
        "pressure": round(rng.uniform(1.0, 1.5), 2),
    }


# (name, mapping, producer) of each seed whose producer shape is known.
SEEDS: list[tuple[str, dict[str, Any], Callable[[random.Random, float], dict[str, Any]]]] = [
    ("seed-002", SEED_002_MAPPING, seed_002_message),
    ("seed-004", SEED_004_MAPPING, seed_004_message),
]


def device_of(mapping: dict[str, Any], message: dict[str, Any]) -> str:
    """The device id a reading of ``message`` carries (an integer id as its text)."""
    return str(message[mapping["deviceId"]])


def event_time_of(mapping: dict[str, Any], message: dict[str, Any]) -> int:
    """The event time (epoch ms) a reading of ``message`` carries."""
    value = message[mapping["time"]]
    return int(value * 1000) if mapping["timeUnit"] == "s" else int(value)


def gateway_source(pipeline: str, source: dict[str, Any]) -> dict[str, Any]:
    """The runtime document's ``gateway.source`` for a spec's source block, rendered by the
    operator (its model resolves the defaults), so a test's gateway reads what a deployed
    one would."""
    spec = with_change(full(), "gateways.0.source", source)
    parsed = parse(spec, pipeline, "iot")
    block: dict[str, Any] = rc.render(parsed, parsed.gateways[0])["gateway"]["source"]
    return block
