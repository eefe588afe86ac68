"""The simulated fleet: deterministic, realistic ranges, faults that do what they say."""

from __future__ import annotations

import pytest

from sensorpipe_edge.protocol import Rejected, parse
from sensorpipe_edge.simulation import Faults, Fleet, simulate

pytestmark = pytest.mark.unit

T0 = 1_700_000_000_000 // 1000  # a tick at interval 1 s


def lines(fleet: Fleet, ticks: range | list[int]) -> list[tuple[str, int, bytes]]:
    return [r for t in ticks for r in fleet.readings(t)]


def test_same_seed_same_readings_and_restart_regenerates_them():
    a = lines(Fleet(5, 1000, seed=7), range(T0, T0 + 20))
    b = Fleet(5, 1000, seed=7)
    assert lines(b, range(T0 + 10, T0 + 20)) == a[len(a) // 2 :]
    assert lines(Fleet(5, 1000, seed=8), range(T0, T0 + 20)) != a


def test_every_line_is_valid_and_in_range_without_faults():
    fleet = Fleet(20, 1000, seed=1)
    seen: dict[str, list[dict[str, str]]] = {}
    for device, seq, raw in lines(fleet, range(T0, T0 + 200)):
        line = parse(raw)
        assert (line.device_id, line.seq) == (device, seq)
        seen.setdefault(line.stream, []).append(line.values)
    temps = [float(v["temperature"]) for v in seen["climate"]]
    assert min(temps) >= -40
    assert max(temps) <= 80
    assert max(temps) - min(temps) > 2  # it moves
    assert {v["motion"] for v in seen["motion"]} == {"0", "1"}
    assert all(2 <= float(v["distance"]) <= 400 for v in seen["distance"])


def test_sequence_numbers_are_contiguous_per_device():
    fleet = Fleet(3, 1000, seed=1)
    by_device: dict[str, list[int]] = {}
    for device, seq, _ in lines(fleet, range(T0, T0 + 10)):
        by_device.setdefault(device, []).append(seq)
    for seqs in by_device.values():
        assert seqs == list(range(seqs[0], seqs[0] + 30))


def test_faults():
    n = 100
    ticks = range(T0, T0 + 40)
    fleet = Fleet(n, 1000, seed=3, faults=Faults(corrupt=0.01, dropout=0.02, silent=0.1))
    out = lines(fleet, ticks)
    bad = 0
    for _, _, raw in out:
        try:
            parse(raw)
        except Rejected:
            bad += 1
    expected = n * 40 * 3
    assert 0.005 * expected < bad < 0.02 * expected
    assert len(out) < expected * 0.97  # drop-outs and silent devices
    late = {d for t in range(T0 + 32, T0 + 40) for d, _, _ in fleet.readings(t)}
    assert 0.75 * n < len(late) < 0.97 * n


def test_stuck_devices_repeat_their_values():
    fleet = Fleet(50, 1000, seed=5, faults=Faults(stuck=0.2))
    lines(fleet, [T0])
    late = [
        (d, raw.split(b",", 4)[4].split(b"*")[0])
        for t in range(T0 + 40, T0 + 45)
        for d, _, raw in fleet.readings(t)
        if b"climate" in raw
    ]
    per_device: dict[str, set[bytes]] = {}
    for d, payload in late:
        per_device.setdefault(d, set()).add(payload)
    frozen = [d for d, p in per_device.items() if len(p) == 1]
    assert 3 <= len(frozen) <= 20


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="unknown simulator faults"):
        Faults.from_mapping({"gremlins": 1.0})


def test_simulate_runs_a_fleet_through_simulated_time():
    fleet = Fleet(2, 10_000, seed=2)
    start = T0 * 1000 + 5_000  # between two ticks: the first line is at the next tick
    out = list(simulate(fleet, start, start + 60_000))
    times = sorted({t for t, _, _, _ in out})
    assert times == [T0 * 1000 + 10_000 * k for k in range(1, 7)]
    assert [(d, s, raw) for _, d, s, raw in out] == lines(
        Fleet(2, 10_000, seed=2), range(T0 // 10 + 1, T0 // 10 + 7)
    )
    assert fleet.onset_tick == T0 // 10 + 1 + 30


def test_spiked_names_the_readings_that_carry_a_spike():
    clean = Fleet(1, 1000, seed=6)
    spiky = Fleet(1, 1000, seed=6, faults=Faults(spike=0.1))
    differ = {
        seq
        for (_, seq, a), (_, _, b) in zip(
            lines(clean, range(T0, T0 + 200)), lines(spiky, range(T0, T0 + 200)), strict=True
        )
        if a != b
    }
    motion = {seq for seq in range(T0 * 3, (T0 + 200) * 3) if seq % 3 == 2}
    assert differ == {s for s in range(T0 * 3, (T0 + 200) * 3) if spiky.spiked(0, s)} - motion
    assert 20 < len(differ) < 100
