"""Firmware in the loop: the real sensornode firmware under simavr, read by the real gateway
over a pty, into the real broker.

The emulator plays the DHT11 (40-bit frames in simulated time), the SR04 (echo pulse
width) and the PIR (pin level) from values this test chooses; the readings that come out
of Kafka must carry exactly those values, with contiguous sequence numbers from the first
line seen (what was sent before the gateway opened the port is lost, as on real hardware),
and a line damaged on the wire must be in the dead-letter topic as a checksum mismatch.
Sensor failures (DHT11 silent, no echo) must arrive as sensor errors, not as values.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.edge.helpers import STREAMS, create_pipeline, read_topics

pytestmark = pytest.mark.integration

WORLD_1 = {"temperature": 23.5, "humidity": 41.0, "distance": 150.0, "motion": True}
WORLD_2 = {"temperature": -7.3, "humidity": 88.5, "distance": 37.2, "motion": False}


def shows(records: list[dict[str, Any]], world: dict[str, Any]) -> bool:
    """Whether every stream has a reading with exactly the world's values."""
    want = {
        "climate": {"temperature": world["temperature"], "humidity": world["humidity"]},
        "distance": {"distance": world["distance"]},
        "motion": {"motion": world["motion"]},
    }
    return all(any(r["values"] == v for r in records if r["stream"] == s) for s, v in want.items())


def test_values_in_are_values_out(node, gateways, kafka_bootstrap, unique_name):
    source = {"type": "serial", "serial": {"device": str(node.link), "baudRate": 115200}}
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    topics = [doc["topics"]["streams"][s] for s in STREAMS]
    dead_topic = doc["topics"]["deadLetter"]
    gw = gateways(doc).start()

    node.set(**{k: int(v) if isinstance(v, bool) else v for k, v in WORLD_1.items()})
    read_topics(kafka_bootstrap, topics, until=lambda r: shows(r, WORLD_1), timeout=120)
    world2 = {k: int(v) if isinstance(v, bool) else v for k, v in WORLD_2.items()}
    node.set(**world2, corrupt="one")
    read_topics(kafka_bootstrap, topics, until=lambda r: shows(r, WORLD_2), timeout=120)
    node.set(**world2, dht="timeout", echo="none", corrupt="one")

    def sensor_errors(recs: list[dict[str, Any]]) -> bool:
        return {"dht_timeout", "no_echo"} <= {r["detail"] for r in recs}

    read_topics(kafka_bootstrap, [dead_topic], until=sensor_errors, timeout=120)
    assert gw.stop() == 0

    readings = read_topics(kafka_bootstrap, topics)
    dead = read_topics(kafka_bootstrap, [dead_topic])
    # Values in = values out: nothing but the worlds the test made (the first lines may
    # still show the emulator's start-up world, before the control file was replaced).
    start = {"temperature": 21.0, "humidity": 40.0, "distance": 100.0, "motion": False}
    for r in readings:
        assert r["device_id"] == "node-01"
        assert r["_key"] == b"node-01"
        assert any(
            all(world[f] == v for f, v in r["values"].items())
            for world in (start, WORLD_1, WORLD_2)
        ), r

    # The damaged line: rejected for its checksum, raw line kept (the flipped 'o' -> 'O').
    damaged = [d for d in dead if d["reason"] == "checksum_mismatch"]
    assert len(damaged) == 1
    assert damaged[0]["raw"].startswith("$nOde-01,")
    errors = [d for d in dead if d["reason"] == "sensor_error"]
    assert {e["detail"] for e in errors} == {"dht_timeout", "no_echo"}
    assert all(e["device_id"] == "node-01" for e in errors)

    # Contiguous sequence numbers from the first line seen: readings and sensor errors
    # carry theirs; the damaged line's number is the one gap (and a line cut by the
    # gateway opening the port mid-line, if that happened, the only other).
    seqs = sorted([r["seq"] for r in readings] + [int(e["raw"].split(",")[1]) for e in errors])
    assert len(seqs) == len(set(seqs))
    gaps = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
    unparsed = [d for d in dead if "device_id" not in d]
    assert 1 <= len(gaps) <= len(unparsed) <= 2
    assert seqs[0] < 2**32  # boot 0 of a fresh EEPROM: seq = boot << 32 | n
