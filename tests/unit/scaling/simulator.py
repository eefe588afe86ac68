"""A small discrete-time model of a consumer group, for policy tests and the benchmark.

Partitions receive an input rate spread over the partitions that carry traffic; each replica
owns partitions round-robin and processes at most ``capacity`` records/s over them; offsets
are committed every ``commit_interval`` seconds, as librdkafka's auto-commit does. At every
poll the model yields the ``Snapshot`` the real broker would, and a scaler (ours or the KEDA
rule) changes the replica count. This is the same data path as production: snapshots go
through ``RateWindow`` and ``decide``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from sensorpipe_operator.scaling.policy import Decision, PolicyConfig, PolicyState, decide
from sensorpipe_operator.scaling.window import PartitionOffsets, RateWindow, Snapshot

TOPIC = "sim.readings"
GROUP = "sim.consumer"


@dataclass
class Group:
    """The broker-side truth of one topic and one consumer group."""

    partitions: int = 6
    capacity: float = 50.0
    commit_interval: float = 5.0
    replicas: int = 1
    loaded_partitions: int | None = None
    restart_pause: float = 0.0
    paused_until: float = 0.0
    ends: list[float] = field(default_factory=list)
    processed: list[float] = field(default_factory=list)
    committed: list[int | None] = field(default_factory=list)
    last_commit: float = 0.0

    def __post_init__(self) -> None:
        self.ends = self.ends or [0.0] * self.partitions
        self.processed = self.processed or list(self.ends)
        self.committed = self.committed or [int(e) for e in self.ends]

    def step(self, now: float, dt: float, input_rate: float) -> None:
        loaded = self.loaded_partitions or self.partitions
        for p in range(loaded):
            self.ends[p] += input_rate * dt / loaded
        if now < self.paused_until:
            return
        for r in range(min(self.replicas, self.partitions)):
            owned = [p for p in range(self.partitions) if p % self.replicas == r]
            budget = self.capacity * dt
            backlog = [p for p in owned if self.ends[p] > self.processed[p]]
            while budget > 1e-9 and backlog:
                share = budget / len(backlog)
                for p in list(backlog):
                    took = min(share, self.ends[p] - self.processed[p])
                    self.processed[p] += took
                    budget -= took
                    if self.ends[p] - self.processed[p] <= 1e-9:
                        backlog.remove(p)
        if now - self.last_commit >= self.commit_interval:
            self.committed = [int(x) for x in self.processed]
            self.last_commit = now

    def snapshot(self, now: float) -> Snapshot:
        return Snapshot(
            time=now,
            group=GROUP,
            partitions=tuple(
                PartitionOffsets(TOPIC, p, int(self.ends[p]), self.committed[p])
                for p in range(self.partitions)
            ),
        )

    @property
    def lag(self) -> int:
        return sum(int(e) - (c or 0) for e, c in zip(self.ends, self.committed, strict=True))


Scaler = Callable[[Snapshot, int], int]


class OurScaler:
    """The production path: RateWindow then decide, remembering every decision."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.window = RateWindow(config.rate_window)
        self.state = PolicyState()
        self.decisions: list[Decision] = []

    def __call__(self, snap: Snapshot, current: int) -> int:
        decision, self.state = decide(self.config, self.state, self.window.add(snap), current)
        self.decisions.append(decision)
        return decision.desired


class KedaScaler:
    """KEDA's Kafka scaler under the HPA defaults: desired = ceil(lag / lagThreshold), capped
    at the partition count and maxReplicaCount, scale up at once, scale down to the highest
    recommendation of the last 300 s."""

    def __init__(
        self,
        lag_threshold: int,
        max_replicas: int,
        min_replicas: int = 1,
        down_window: float = 300.0,
    ) -> None:
        self.lag_threshold = lag_threshold
        self.max_replicas = max_replicas
        self.min_replicas = min_replicas
        self.down_window = down_window
        self.history: list[tuple[float, int]] = []

    def __call__(self, snap: Snapshot, current: int) -> int:
        if not snap.reachable:
            return current
        cap = min(self.max_replicas, len(snap.partitions))
        rec = max(self.min_replicas, min(cap, math.ceil(snap.total_lag / self.lag_threshold)))
        self.history = [(t, r) for t, r in self.history if t > snap.time - self.down_window]
        self.history.append((snap.time, rec))
        if rec > current:
            return rec
        return min(current, max(r for _, r in self.history))


@dataclass
class Run:
    """What one simulated run produced: (time, replicas) after every poll, and lag."""

    times: list[float] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)

    def changes(self) -> list[tuple[float, int, int]]:
        out = []
        prev = None
        for t, r in zip(self.times, self.replicas, strict=True):
            if prev is not None and r != prev:
                out.append((t, prev, r))
            prev = r
        return out

    def reversals(self) -> list[float]:
        """Times at which a change went the other way from the change before it."""
        out = []
        last_dir = 0
        for t, old, new in self.changes():
            d = 1 if new > old else -1
            if last_dir and d != last_dir:
                out.append(t)
            last_dir = d
        return out


def simulate(
    group: Group,
    scaler: Scaler,
    input_rate: Callable[[float], float],
    duration: float,
    poll: float,
    dt: float = 0.5,
    phase: float = 0.0,
    reachable: Callable[[float], bool] = lambda _t: True,
) -> Run:
    """Run the model for ``duration`` seconds, the scaler polling every ``poll`` seconds
    starting at ``phase``; a scale change takes effect at once, after ``restart_pause``
    seconds without processing for a target that restarts (Spark)."""
    run = Run()
    now = 0.0
    next_poll = phase
    while now < duration:
        now = round(now + dt, 6)
        group.step(now, dt, input_rate(now))
        if now + 1e-9 >= next_poll:
            next_poll += poll
            if reachable(now):
                snap = group.snapshot(now)
            else:
                snap = Snapshot(time=now, group=GROUP, error="_TRANSPORT: broker down")
            before = group.replicas
            group.replicas = scaler(snap, before)
            if group.replicas != before:
                group.paused_until = now + group.restart_pause
            run.times.append(now)
            run.replicas.append(group.replicas)
            run.lags.append(group.lag)
    return run


def replay(trace: list[Snapshot], t: float) -> Snapshot:
    """The newest snapshot of a recorded trace taken at or before ``t``."""
    return [s for s in trace if s.time <= t][-1]


def reaction(
    trace: list[Snapshot], scaler: Scaler, poll: float, phase: float, threshold: int
) -> float | None:
    """Replaying a recorded trace with one replica: seconds from the lag first crossing
    ``threshold`` to the first poll (every ``poll`` s from ``phase``) that scales up."""
    crossed = next(s.time for s in trace if s.total_lag >= threshold)
    t = trace[0].time + phase
    while t <= trace[-1].time:
        if scaler(replay(trace, t), 1) > 1:
            return max(0.0, t - crossed)
        t += poll
    return None
