"""Boot epochs: a device that restarts its counter gets new identities, and only then.

Issue 18: a hobby sketch counts its sequence from 0 after every power cycle, and the lake
deduplicated the post-reboot readings away (same (stream, device, seq)). These tests hold
the gateway's side of the fix: the records of a rebooted device carry the next ``boot``
epoch, the reboot is counted, and nothing else (a corrupted line, a gateway restart)
changes an epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorpipe_edge.boots import BootEpochs
from sensorpipe_edge.protocol import encode
from sensorpipe_edge.readings import RecordBuilder
from sensorpipe_edge.schema import compile_validator
from sensorpipe_edge.shortcut import Record
from sensorpipe_edge.simulation import corrupt

pytestmark = pytest.mark.unit

NOW = 1_700_000_000_123


@pytest.fixture
def builder(gateway_config):
    return RecordBuilder(gateway_config, compile_validator())


def lines(device: str, seqs: range, start_uptime: int = 0) -> list[bytes]:
    return [
        encode(device, s, "motion", {"motion": s % 2 == 0}, uptime_ms=start_uptime + 1000 * i)
        for i, s in enumerate(seqs)
    ]


def stamped(builder: RecordBuilder, boots: BootEpochs, batch: list[bytes]) -> list[Record]:
    """What Gateway.handle does with a batch of a serial source."""
    records, _rejected = builder.records(batch, NOW)
    return boots.stamp(records)


def identities(records: list[Record]) -> list[tuple[str, int, int]]:
    docs = [json.loads(v) for _t, _k, v in records]
    return [(d["device_id"], d.get("boot", 0), d["seq"]) for d in docs]


def test_a_device_restarting_its_counter_gets_new_identities(builder, tmp_path):
    boots = BootEpochs(tmp_path / "boots.json")
    before = stamped(builder, boots, lines("uno", range(5)))
    # power cycle: the sketch counts from 0 again, in the same batch as other devices' lines
    after = stamped(builder, boots, lines("uno", range(3)) + lines("other", range(7, 9)))
    got = identities(before + after)
    assert got == [
        *[("uno", 0, s) for s in range(5)],
        *[("uno", 1, s) for s in range(3)],
        ("other", 0, 7),
        ("other", 0, 8),
    ]
    assert len(set(got)) == len(got), "every reading keeps an identity of its own"
    assert boots.reboots == {b"uno": 1}
    validate = compile_validator()
    for _t, _k, value in after:
        validate(json.loads(value))  # `boot` is part of the contract


def test_two_reboots_inside_one_batch(builder, tmp_path):
    boots = BootEpochs(tmp_path / "boots.json")
    batch = lines("uno", range(3)) + lines("uno", range(2)) + lines("uno", range(2))
    got = identities(stamped(builder, boots, batch))
    assert [b for _d, b, _s in got] == [0, 0, 0, 1, 1, 2, 2]
    assert boots.reboots[b"uno"] == 2


def test_epoch_zero_records_are_the_records_without_epochs(builder, tmp_path):
    """A device that never rebooted keeps byte for byte the records it had before epochs."""
    batch = lines("uno", range(10, 20))
    plain, _ = builder.records(batch, NOW)
    assert stamped(builder, BootEpochs(tmp_path / "boots.json"), batch) == plain


def test_a_corrupted_line_does_not_look_like_a_reboot(builder, tmp_path):
    boots = BootEpochs(tmp_path / "boots.json")
    stamped(builder, boots, lines("uno", range(100, 110)))
    broken = lines("uno", range(110, 111))[0].replace(b",110,", b",010,")  # CRC now fails
    rest = lines("uno", range(111, 113))
    got = identities(stamped(builder, boots, [broken, corrupt(rest[0], 3), rest[1]]))
    assert got == [("uno", 0, 112)]
    assert not boots.reboots


def test_epochs_survive_a_gateway_restart(builder, tmp_path):
    """kill -9 and restart without a reboot: same epoch, so a line read again after the
    restart keeps its identity; a reboot while the gateway was down is still noticed."""
    path = tmp_path / "boots.json"
    first = BootEpochs(path)
    stamped(builder, first, lines("uno", range(4)) + lines("uno", range(6)))
    stamped(builder, first, lines("due", range(50, 60)))
    first.save()

    again = BootEpochs(path)
    assert identities(stamped(builder, again, lines("uno", range(6, 8)))) == [
        ("uno", 1, 6),
        ("uno", 1, 7),
    ]
    assert identities(stamped(builder, again, lines("due", range(1)))) == [("due", 1, 0)]
    assert again.reboots == {b"due": 1}


def test_only_readings_move_the_counter(builder, tmp_path):
    """A rejected line gets no identity, so its number cannot collide: not a reboot."""
    boots = BootEpochs(tmp_path / "boots.json")
    stamped(builder, boots, lines("uno", range(100, 103)))
    error = encode("uno", 5, "climate", error="dht_timeout")
    got = identities(stamped(builder, boots, [error, *lines("uno", range(103, 104))]))
    assert got == [("uno", 0, 103)]
    assert not boots.reboots


def test_save_writes_only_after_a_change(builder, tmp_path: Path):
    path = tmp_path / "boots.json"
    boots = BootEpochs(path)
    boots.save()
    assert not path.exists()
    stamped(builder, boots, lines("uno", range(1)))
    boots.save()
    assert json.loads(path.read_text()) == {"uno": [0, 0]}


def test_redelivered_lines_keep_the_epoch_and_move_nothing(builder, tmp_path):
    """An MQTT broker redelivers (DUP) what a crashed gateway had not acknowledged: lower
    numbers than the device's last, yet no reboot; a fresh line going back still is one."""
    boots = BootEpochs(tmp_path / "boots.json")
    stamped(builder, boots, lines("esp", range(10)))
    records, _ = builder.records(lines("esp", range(5, 8)), NOW)
    again = boots.stamp(records, redelivered=True)
    assert [b for _d, b, _s in identities(again)] == [0, 0, 0]
    after = stamped(builder, boots, lines("esp", range(10, 12)) + lines("esp", range(2)))
    assert identities(after) == [("esp", 0, 10), ("esp", 0, 11), ("esp", 1, 0), ("esp", 1, 1)]
    assert boots.reboots == {b"esp": 1}
