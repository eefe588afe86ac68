"""Bad input through the real gateway into the real broker: every reject is in the
dead-letter topic with its reason and raw input, every good line in its stream topic.

A fixed-seed fuzz corpus (random bytes, cut lines, flipped bits, spliced junk, huge
lines, non-UTF-8, rule breaks) goes through ``Gateway.handle`` — the same code path the
sources feed — with a real KafkaSink.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from sensorpipe_edge.config import from_document
from sensorpipe_edge.gateway import build
from sensorpipe_edge.protocol import crc16, encode
from sensorpipe_edge.simulation import Fleet, corrupt
from tests.integration.edge.helpers import STREAMS, create_pipeline, read_topics

pytestmark = pytest.mark.integration


def corpus(seed: int) -> tuple[list[bytes], list[bytes]]:
    """(good lines, bad inputs) — deterministic for the seed."""
    rnd = random.Random(seed)
    fleet = Fleet(5, 1000, seed)
    good = [line for t in range(1_700_000_000, 1_700_000_040) for _, _, line in fleet.readings(t)]
    bad: list[bytes] = []
    for line in rnd.sample(good, 60):
        bad.append(line[: rnd.randrange(1, len(line) - 3)])  # cut
        bad.append(corrupt(line, rnd.getrandbits(64)))  # line noise
        at = rnd.randrange(1, len(line) - 6)
        bad.append(line[:at] + rnd.randbytes(rnd.randrange(1, 3)) + line[at + 2 :])  # spliced
    bad += [rnd.randbytes(rnd.randrange(0, 300)) for _ in range(60)]  # random bytes
    bad += [b"$" + b"9" * rnd.randrange(300, 5000) for _ in range(5)]  # huge
    bad += [encode("d\xe9v", 1, "climate", {"temperature": 1, "humidity": 1})]
    for line in good[:5]:  # non-UTF-8 with a correct checksum
        body = b"\xff\xfe" + line[1 : line.rfind(b"*")]
        bad.append(b"$" + body + b"*%04X" % crc16(body))
    bad += [
        encode("dev-1", 1, "pressure", {"p": 1}),
        encode("dev-1", 2, "distance", {"distance": 999}),
        encode("dev-1", 3, "distance", {"distance": "x"}),
        encode("dev-1", 4, "climate", {"temperature": 20}),
        encode("dev-1", 5, "distance", error="no_echo"),
    ]
    bad = [b for b in bad if b not in set(good)]
    return good, bad


def test_every_reject_reaches_the_dead_letter_topic(kafka_bootstrap, unique_name, tmp_path: Path):
    serial = {"type": "serial", "serial": {"device": "/dev/null"}}
    doc = create_pipeline(kafka_bootstrap, unique_name, serial)
    config = from_document(doc, {"SENSORPIPE_SPOOL_DIR": str(tmp_path)})
    built = build(config, env={})
    good, bad = corpus(seed=11)
    mixed = [(line, None) for line in good + bad]
    random.Random(1).shuffle(mixed)
    gateway = built.gateway
    gateway.handle(mixed, "fuzz")
    gateway.sink.close()
    rejected = sum(gateway.stats.rejected.values())
    assert gateway.stats.published == len(mixed)

    dead_topic = [doc["topics"]["deadLetter"]]
    # The sink is closed, so complete snapshots: a surplus record would show as well.
    dead = read_topics(kafka_bootstrap, dead_topic)
    topics = [doc["topics"]["streams"][s] for s in STREAMS]
    readings = read_topics(kafka_bootstrap, topics)
    assert len(readings) == len(good)
    assert len(dead) == rejected == len(bad)
    assert Counter(r["reason"] for r in dead) == gateway.stats.rejected
    expected = Counter(b.rstrip(b"\r\n").decode("utf-8", "backslashreplace") for b in bad)
    assert Counter(r["raw"] for r in dead) == expected
    assert all(r["detail"] and r["stage"] == "gateway" for r in dead)
    kinds = {"checksum_mismatch", "malformed_line", "line_too_long", "not_utf8", "sensor_error"}
    assert kinds <= set(gateway.stats.rejected)
