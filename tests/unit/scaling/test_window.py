"""Lag and rates from offset snapshots (pure arithmetic, no broker)."""

from __future__ import annotations

import pytest

from sensorpipe_operator.scaling.window import PartitionOffsets, RateWindow, Snapshot

pytestmark = pytest.mark.unit


def snap(t: float, *parts: tuple[int, int, int | None], start: int = 0) -> Snapshot:
    return Snapshot(
        time=t,
        group="g",
        partitions=tuple(
            PartitionOffsets("topic", p, end, committed, start) for p, end, committed in parts
        ),
    )


def test_lag_counts_from_the_commit_or_from_the_earliest_offset_without_one():
    s = snap(0, (0, 100, 40), (1, 100, None), start=30)
    assert [p.lag for p in s.partitions] == [60, 70]
    assert s.total_lag == 130


def test_a_commit_racing_the_end_offset_is_never_negative_lag():
    assert snap(0, (0, 100, 105)).total_lag == 0


def test_rates_span_the_window_and_count_only_partitions_seen_at_both_ends():
    w = RateWindow(length=20)
    w.add(snap(0, (0, 0, 0), (1, 0, 0)))
    w.add(snap(10, (0, 100, 50), (1, 100, 50)))
    obs = w.add(snap(20, (0, 200, 100), (1, 200, 100), (2, 999, 0)))
    assert obs.window == 20
    assert obs.input_rate == pytest.approx(20.0)  # (200 + 200) / 20 s; partition 2 is new
    assert obs.consumption_rate == pytest.approx(10.0)
    assert obs.total_lag == 100 + 100 + 999
    assert obs.lag_by_topic == {"topic": 1199}
    assert obs.min_lag == 0
    assert obs.lag_growth == 1199


def test_old_snapshots_leave_the_window_but_one_stays_at_its_edge():
    w = RateWindow(length=10)
    for t in range(0, 31, 5):
        obs = w.add(snap(t, (0, t * 10, t * 10)))
    assert obs.window == 10
    assert obs.input_rate == pytest.approx(10.0)


def test_idle_partitions_are_neither_lagging_nor_active():
    w = RateWindow(length=10)
    w.add(snap(0, (0, 10, 10), (1, 10, 10), (2, 10, 5)))
    obs = w.add(snap(10, (0, 50, 50), (1, 10, 10), (2, 10, 5)))
    assert obs.partitions == 3
    assert obs.lagging_partitions == 1  # partition 2 still has 5 to read
    assert obs.active_partitions == 2  # partition 0 took traffic, partition 2 has lag


def test_first_snapshot_has_no_rates_yet():
    obs = RateWindow(30).add(snap(0, (0, 10, 0)))
    assert obs.input_rate is None
    assert obs.consumption_rate is None
    assert obs.window == 0


def test_group_without_commits_is_flagged():
    obs = RateWindow(30).add(snap(0, (0, 10, None)))
    assert obs.committed is False
    assert obs.total_lag == 10


def test_an_unreachable_broker_is_not_a_drop_in_traffic():
    w = RateWindow(length=100)
    w.add(snap(0, (0, 0, 0)))
    down = w.add(Snapshot(time=10, group="g", error="_TRANSPORT: down"))
    assert not down.reachable
    assert down.error == "_TRANSPORT: down"
    obs = w.add(snap(20, (0, 200, 200)))
    assert obs.input_rate == pytest.approx(10.0)  # measured from t=0: the outage left no hole


def test_snapshots_round_trip_through_json_dicts():
    s = snap(1.5, (0, 10, None), (1, 20, 5), start=2)
    assert Snapshot.from_dict(s.to_dict()) == s
