"""Lag and rates of one consumer group over a sliding window of offset snapshots.

Pure: the broker is read elsewhere (``lag``); this module only does arithmetic on what was
read, so recorded traces can be replayed through it in unit tests and benchmarks.

Rates come from the growth of offsets between the oldest and newest snapshot in the window,
not from two consecutive polls: consumers commit in bursts (auto-commit every few seconds), and
a window of several polls smooths that out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

TopicPartitionKey = tuple[str, int]


@dataclass(frozen=True)
class PartitionOffsets:
    """Offsets of one partition as read at one instant.

    ``committed`` is None when the group has never committed on this partition; its lag is
    then counted from ``start`` (the earliest retained offset), which is what a consumer that
    starts with ``auto.offset.reset=earliest`` has to read.
    """

    topic: str
    partition: int
    end: int
    committed: int | None
    start: int = 0

    @property
    def lag(self) -> int:
        """Records not yet consumed by the group; never negative (a commit can race the end)."""
        base = self.start if self.committed is None else self.committed
        return max(0, self.end - base)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "end": self.end,
            "committed": self.committed,
            "start": self.start,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartitionOffsets:
        return cls(
            topic=str(data["topic"]),
            partition=int(data["partition"]),
            end=int(data["end"]),
            committed=None if data.get("committed") is None else int(data["committed"]),
            start=int(data.get("start", 0)),
        )


@dataclass(frozen=True)
class Snapshot:
    """Everything read about one group at one instant, or why it could not be read."""

    time: float
    group: str
    partitions: tuple[PartitionOffsets, ...] = ()
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "group": self.group,
            "partitions": [p.to_dict() for p in self.partitions],
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            time=float(data["time"]),
            group=str(data["group"]),
            partitions=tuple(PartitionOffsets.from_dict(p) for p in data.get("partitions", [])),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class Observation:
    """What the policy sees of one group: lag now, rates over the window, and its shape.

    ``input_rate``/``consumption_rate`` are None until the window holds two snapshots;
    ``min_lag`` is the smallest total lag seen in the window, which tells the policy whether
    the consumers were saturated the whole time (then their rate is their true capacity);
    ``lag_growth`` is the change of total lag across the window (consumers falling behind);
    ``lagging_partitions`` is the most partitions that had lag at any snapshot of the window:
    how many consumers can have been busy while the consumption rate was measured.
    """

    time: float
    reachable: bool
    error: str | None
    total_lag: int
    lag_by_topic: dict[str, int]
    partitions: int
    lagging_partitions: int
    active_partitions: int
    committed: bool
    input_rate: float | None
    consumption_rate: float | None
    window: float
    min_lag: int
    lag_growth: int
    # Offsets summed over the group's partitions in the newest snapshot: records appended to
    # its topics and records it has committed. They only grow, so they are exported as
    # counters and Prometheus takes their rate (the rates above are the autoscaler's own).
    end_offsets: int = 0
    committed_offsets: int = 0

    @classmethod
    def unreachable(cls, time: float, error: str) -> Observation:
        """The broker could not be read: nothing is known, so every figure is empty."""
        return cls(
            time=time,
            reachable=False,
            error=error,
            total_lag=0,
            lag_by_topic={},
            partitions=0,
            lagging_partitions=0,
            active_partitions=0,
            committed=False,
            input_rate=None,
            consumption_rate=None,
            window=0.0,
            min_lag=0,
            lag_growth=0,
        )


class RateWindow:
    """The snapshots of one group from the last ``length`` seconds.

    Unreachable snapshots are never stored: an outage must not look like a drop in traffic.
    """

    def __init__(self, length: float) -> None:
        self.length = length
        self._snapshots: deque[Snapshot] = deque()

    def add(self, snapshot: Snapshot) -> Observation:
        """Store ``snapshot`` (when it was read), drop what fell out of the window, observe."""
        if not snapshot.reachable:
            return Observation.unreachable(snapshot.time, snapshot.error or "unreachable")
        self._snapshots.append(snapshot)
        # Keep one snapshot at or beyond the window's edge so the rate covers the full length.
        while len(self._snapshots) > 2 and self._snapshots[1].time <= snapshot.time - self.length:
            self._snapshots.popleft()
        return observe(tuple(self._snapshots))


def _growth(first: dict[TopicPartitionKey, int], last: dict[TopicPartitionKey, int]) -> int:
    """Sum of offset growth over the partitions present in both snapshots (a partition added
    in between has no earlier value to grow from)."""
    return sum(max(0, last[k] - first[k]) for k in last.keys() & first.keys())


def observe(snapshots: tuple[Snapshot, ...]) -> Observation:
    """Lag from the newest snapshot, rates from the oldest to the newest."""
    last = snapshots[-1]
    lag_by_topic: dict[str, int] = {}
    for p in last.partitions:
        lag_by_topic[p.topic] = lag_by_topic.get(p.topic, 0) + p.lag
    first = snapshots[0]
    span = last.time - first.time
    input_rate: float | None = None
    consumption_rate: float | None = None
    grown: set[TopicPartitionKey] = set()
    if span > 0:
        first_end = {(p.topic, p.partition): p.end for p in first.partitions}
        last_end = {(p.topic, p.partition): p.end for p in last.partitions}
        input_rate = _growth(first_end, last_end) / span
        grown = {k for k in last_end.keys() & first_end.keys() if last_end[k] > first_end[k]}
        first_committed = {
            (p.topic, p.partition): p.committed for p in first.partitions if p.committed is not None
        }
        last_committed = {
            (p.topic, p.partition): p.committed for p in last.partitions if p.committed is not None
        }
        consumption_rate = _growth(first_committed, last_committed) / span
    lagging = {(p.topic, p.partition) for p in last.partitions if p.lag > 0}
    most_lagging = max(sum(1 for p in s.partitions if p.lag > 0) for s in snapshots)
    return Observation(
        time=last.time,
        reachable=True,
        error=None,
        total_lag=last.total_lag,
        lag_by_topic=lag_by_topic,
        partitions=len(last.partitions),
        lagging_partitions=most_lagging,
        active_partitions=len(lagging | grown),
        committed=any(p.committed is not None for p in last.partitions),
        input_rate=input_rate,
        consumption_rate=consumption_rate,
        window=span,
        min_lag=min(s.total_lag for s in snapshots),
        lag_growth=last.total_lag - first.total_lag,
        end_offsets=sum(p.end for p in last.partitions),
        committed_offsets=sum(p.committed or 0 for p in last.partitions),
    )
