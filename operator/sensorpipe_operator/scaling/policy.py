"""The scaling decision: a pure function of configuration, state and one observation.

Why it is shaped like this (anchors: KEDA's Kafka scaler and the Flink autoscaler):

- Size from rates when they are known (Flink): enough replicas to absorb the input rate *and*
  drain the backlog within ``catch_up_time``, using the per-replica processing rate measured
  while the consumers were saturated. Lag alone (KEDA: ceil(lag / threshold)) is the fallback
  before any capacity is known, and then the step is limited to doubling, so a large backlog
  does not jump straight to the maximum.
- Never more replicas than partitions that carry load: extra consumers sit idle. Replica counts
  that do not shorten the busiest consumer's share of partitions are skipped too (with 6
  partitions, 4 or 5 replicas drain no faster than 3).
- Stabilise like the HPA: scale up to the lowest recommendation of the up window, down to the
  highest of the down window; bound each step down; cool down after every change.
- Never flap: a change against the direction of the previous one (a reversal) is allowed at
  most once per stabilisation window.
- A broker that cannot be read holds the current scale: an outage is not a drop in load.
- A restarting target (Spark) pays ``restart_cost`` seconds without processing per change; it
  changes only when the backlog justifies that, by at least ``min_step``, and cools down longer.

Every decision carries a reason code (for events and status) and a sentence saying why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from sensorpipe_operator.model.autoscaling import Scaling
from sensorpipe_operator.scaling.window import Observation


class Reason(StrEnum):
    """Stable codes for every decision; used as Kubernetes Event reasons and in status."""

    SCALE_UP = "ScaleUp"
    SCALE_DOWN = "ScaleDown"
    STEADY = "Steady"
    BELOW_ACTIVATION = "BelowActivation"
    BROKER_UNREACHABLE = "BrokerUnreachable"
    UP_STABILIZING = "UpStabilizing"
    DOWN_STABILIZING = "DownStabilizing"
    COOLDOWN = "Cooldown"
    DIRECTION_GUARD = "DirectionGuard"
    RESTART_NOT_JUSTIFIED = "RestartNotJustified"


@dataclass(frozen=True)
class PolicyConfig(Scaling):
    """The spec's scaling block (the operator's model of docs/contracts.md §1, in seconds and
    counts) plus what the kind of target adds: the seconds a change costs in restart, the
    smallest change worth making, and how often the measured group commits."""

    restart_cost: float = 0.0
    min_step: int = 1
    commit_interval: float = 5.0

    @property
    def rate_window(self) -> float:
        """Rates span three polls: long enough to smooth bursty commits, short enough to react."""
        return 3 * self.poll_interval

    @property
    def history(self) -> float:
        return max(self.scale_up_stabilization, self.scale_down_stabilization)


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers between polls; a new value is returned by every decision."""

    since: float | None = None
    recommendations: tuple[tuple[float, int], ...] = ()
    capacity: float | None = None
    capacity_measured: bool = False
    last_change: float | None = None
    last_direction: int = 0
    last_reversal: float | None = None


@dataclass(frozen=True)
class Decision:
    """One poll's outcome: ``desired`` equals ``current`` unless the target is to be patched."""

    time: float
    current: int
    desired: int
    recommended: int
    reason: Reason
    message: str

    @property
    def action(self) -> str:
        if self.desired > self.current:
            return "scale-up"
        if self.desired < self.current:
            return "scale-down"
        return "hold"


@dataclass(frozen=True)
class _Load:
    """The observation's figures the sizing arithmetic needs, with unknown rates as zero.

    ``backlog`` is the lag beyond what periodic commits explain: records consumed but not yet
    committed, at most ``consumption_rate * commit_interval``. Consumers that keep up always
    show that much committed lag, and treating it as backlog would size replicas from noise
    (and, with a capacity derived from the same replicas, ratchet up to the maximum). It is
    the consumption rate, not the input rate, that bounds it: a burst of input is backlog.
    ``saturated`` says the consumers had a real backlog during the whole window, so their
    consumption rate is their capacity; ``behind`` says they need help: a saturated window,
    or lag that grew across the window by more than commit delay explains.
    """

    lag: int
    backlog: int
    input_rate: float
    active_partitions: int
    committed: bool
    saturated: bool
    behind: bool

    @classmethod
    def of(cls, config: PolicyConfig, obs: Observation) -> _Load:
        input_rate = obs.input_rate or 0.0
        noise = (obs.consumption_rate or 0.0) * config.commit_interval
        saturated = obs.min_lag - noise >= max(config.activation_lag, 1)
        return cls(
            lag=obs.total_lag,
            backlog=max(0, round(obs.total_lag - noise)),
            input_rate=input_rate,
            active_partitions=obs.active_partitions,
            committed=obs.committed,
            saturated=saturated,
            behind=saturated or (obs.window > 0 and obs.lag_growth > max(noise, 1)),
        )


def throughput(capacity: float, replicas: int, partitions: int) -> float:
    """Records/s ``replicas`` consumers process when load is spread evenly over ``partitions``:
    the busiest consumer owns ceil(partitions / replicas) of them and sets the pace."""
    parts = max(partitions, 1)
    return capacity * parts / math.ceil(parts / max(min(replicas, parts), 1))


def _drain_time(capacity: float, replicas: int, load: _Load, backlog: float) -> float:
    spare = throughput(capacity, replicas, load.active_partitions) - load.input_rate
    return backlog / spare if spare > 0 else math.inf


def update_capacity(
    state: PolicyState,
    obs_window: float,
    consumption_rate: float | None,
    consumers: int,
    saturated: bool,
    now: float,
) -> tuple[float | None, bool]:
    """The per-replica processing rate: measured while saturated, a lower bound otherwise.

    A window in which the replica count changed mixes two sizes (and a rebalance), so it
    teaches nothing.
    """
    known = (state.capacity, state.capacity_measured)
    if consumption_rate is None or obs_window <= 0 or consumers <= 0:
        return known
    if state.last_change is not None and state.last_change > now - obs_window:
        return known
    per_replica = consumption_rate / consumers
    if per_replica <= 0:
        return known
    if saturated:
        if state.capacity is None or not state.capacity_measured:
            return per_replica, True
        return (state.capacity + per_replica) / 2, True
    if state.capacity is None or per_replica > state.capacity:
        return per_replica, state.capacity_measured
    return known


@dataclass(frozen=True)
class Bounds:
    """The range a recommendation is clamped to: replicas beyond the partitions that carry
    load would sit idle, and the maximum never exceeds the partition count."""

    lower: int
    upper: int
    text: str

    @classmethod
    def of(cls, config: PolicyConfig, partitions: int, active_partitions: int) -> Bounds:
        cap = min(config.max_replicas, max(partitions, 1))
        lower = min(config.min_replicas, cap)
        upper = max(lower, min(cap, active_partitions))
        text = f"max {config.max_replicas}, {partitions} partitions, {active_partitions} with load"
        return cls(lower, upper, text)


def _by_lag(
    config: PolicyConfig, load: _Load, current: int, bounds: Bounds, why: str
) -> tuple[int, str]:
    """KEDA's rule, ceil(backlog / lagThreshold), but at most doubling per step."""
    by_lag = math.ceil(load.backlog / max(config.lag_threshold, 1))
    n = max(bounds.lower, min(bounds.upper, by_lag, max(2 * current, current + 1)))
    return n, (
        f"{why}: backlog {load.backlog} / threshold {config.lag_threshold} = {by_lag}, "
        f"at most doubling, within {bounds.text}"
    )


def _by_rate(
    load: _Load, capacity: float, bounds: Bounds, catch_up: float, measured: bool
) -> tuple[int, str]:
    """Flink's rule: the fewest replicas whose throughput covers the input rate plus the
    backlog spread over the catch-up time."""
    need = load.input_rate + load.backlog / max(catch_up, 1e-9)
    n = next(
        (
            k
            for k in range(bounds.lower, bounds.upper + 1)
            if need <= 0 or (k > 0 and throughput(capacity, k, load.active_partitions) >= need)
        ),
        bounds.upper,
    )
    per = f"{capacity:.1f}/s per replica" if measured else f"at least {capacity:.1f}/s per replica"
    return n, (
        f"input {load.input_rate:.1f}/s + backlog {load.backlog} over {catch_up:g}s catch-up"
        f" = {need:.1f}/s at {per}, within {bounds.text}"
    )


def recommend(
    config: PolicyConfig,
    load: _Load,
    current: int,
    capacity: float | None,
    measured: bool,
    bounds: Bounds,
) -> tuple[int, str]:
    """Replicas this observation alone asks for, and the sentence that explains it.

    Rates size whenever a capacity is known. One seen only while the consumers kept up is a
    lower bound: sizing from it over- rather than under-provisions, and it never scales below
    what has been seen to keep up, so an unmeasured group does not probe its way down into a
    backlog and back up (KEDA's flapping). A catch-up long enough to saturate the consumers
    measures the true rate; status keeps it across operator restarts.
    """
    if load.lag < config.activation_lag and current <= bounds.lower:
        return bounds.lower, f"lag {load.lag} is below the activation lag {config.activation_lag}"
    if not load.committed:
        n, basis = _by_lag(config, load, current, bounds, "no commits yet")
    elif capacity is not None:
        n, basis = _by_rate(load, capacity, bounds, config.catch_up_time, measured)
    else:
        n, basis = _by_lag(config, load, current, bounds, "no processing rate measured yet")
    if n > current and not load.behind:
        return current, f"{basis}; consumers keep up (lag {load.lag} is commit delay) -> {current}"
    return n, f"{basis} -> {n}"


def _restart_justified(
    config: PolicyConfig,
    load: _Load,
    current: int,
    target: int,
    capacity: float | None,
    measured: bool,
) -> tuple[bool, str]:
    """Whether a change worth a restart of ``restart_cost`` seconds pays for itself.

    Up: only on a capacity measured under backlog (a lower bound would make the current size
    look slower than it is and buy restarts for surges it absorbs), and only if restarting and
    draining at the new size beats draining at the current one. Down: only if the backlog that
    piles up during the restart still drains within the catch-up time at the smaller size.
    """
    cost = config.restart_cost
    if not load.committed or capacity is None or (target > current and not measured):
        return False, (
            f"restart cost {cost:g}s: no processing rate measured under backlog yet, "
            f"so a restart cannot be weighed"
        )
    backlog_after = load.backlog + load.input_rate * cost
    if target > current:
        now_t = _drain_time(capacity, current, load, load.backlog)
        new_t = cost + _drain_time(capacity, target, load, backlog_after)
        ok = now_t > config.catch_up_time and new_t < now_t
        return ok, (
            f"restart cost {cost:g}s: drain at {current} takes {now_t:.0f}s, "
            f"restart and drain at {target} takes {new_t:.0f}s"
        )
    new_t = _drain_time(capacity, target, load, backlog_after)
    return new_t <= config.catch_up_time, (
        f"restart cost {cost:g}s: at {target} the backlog after a restart drains in {new_t:.0f}s"
        f" (catch-up {config.catch_up_time:g}s)"
    )


def decide(
    config: PolicyConfig, state: PolicyState, obs: Observation, current: int
) -> tuple[Decision, PolicyState]:
    """The decision for one poll and the state to pass to the next one."""
    now = obs.time

    def hold(reason: Reason, message: str, recommended: int) -> tuple[Decision, PolicyState]:
        return Decision(now, current, current, recommended, reason, message), state

    if not obs.reachable:
        # What was recommended before the outage is stale: after it, the stabilisation
        # windows must fill again with fresh observations before anything scales.
        state = replace(state, since=None, recommendations=())
        return hold(
            Reason.BROKER_UNREACHABLE,
            f"broker unreachable ({obs.error}): holding {current}, an outage never scales down",
            current,
        )
    load = _Load.of(config, obs)
    bounds = Bounds.of(config, obs.partitions, obs.active_partitions)
    busy = obs.lagging_partitions if load.saturated else obs.active_partitions
    capacity, measured = update_capacity(
        state,
        obs.window,
        obs.consumption_rate if obs.committed else None,
        min(current, max(busy, 1)),
        load.saturated,
        now,
    )
    rec, basis = recommend(config, load, current, capacity, measured, bounds)
    recs = tuple((t, r) for t, r in state.recommendations if t >= now - config.history)
    state = replace(
        state,
        since=now if state.since is None else state.since,
        recommendations=(*recs, (now, rec)),
        capacity=capacity,
        capacity_measured=measured,
    )
    observed_for = now - (state.since if state.since is not None else now)
    up_target = min(r for t, r in state.recommendations if t >= now - config.scale_up_stabilization)
    down_target = max(
        r for t, r in state.recommendations if t >= now - config.scale_down_stabilization
    )
    if up_target > current and observed_for >= config.scale_up_stabilization:
        direction = 1
        target = min(bounds.upper, max(up_target, current + config.min_step))
    elif down_target < current and observed_for >= config.scale_down_stabilization:
        direction = -1
        if current - down_target < config.min_step and down_target > bounds.lower:
            return hold(
                Reason.RESTART_NOT_JUSTIFIED,
                f"{basis}; a surplus of {current - down_target} is below the step of "
                f"{config.min_step}",
                rec,
            )
        target = max(down_target, current - max(config.max_scale_down_step, config.min_step))
    elif rec > current:
        return hold(
            Reason.UP_STABILIZING,
            f"{basis}; waiting for it to last {config.scale_up_stabilization:g}s",
            rec,
        )
    elif rec < current:
        return hold(
            Reason.DOWN_STABILIZING,
            f"{basis}; waiting for it to last {config.scale_down_stabilization:g}s",
            rec,
        )
    elif obs.total_lag < config.activation_lag and current <= bounds.lower:
        return hold(Reason.BELOW_ACTIVATION, basis, rec)
    else:
        return hold(Reason.STEADY, basis, rec)

    cooldown = config.cooldown + config.restart_cost
    if state.last_change is not None and now - state.last_change < cooldown:
        return hold(
            Reason.COOLDOWN, f"{basis}; cooling down {cooldown:g}s after the last change", rec
        )
    reversal = state.last_direction not in (0, direction)
    if reversal and state.last_reversal is not None and now - state.last_reversal < config.history:
        return hold(
            Reason.DIRECTION_GUARD,
            f"{basis}; the direction changed {now - state.last_reversal:.0f}s ago, "
            f"at most once per {config.history:g}s",
            rec,
        )
    # Outside the spec's bounds (a new object without a floor, a lowered maximum) the move is
    # owed to the spec, whatever the restart costs.
    out_of_bounds = current < bounds.lower or current > config.max_replicas
    if config.restart_cost > 0 and not out_of_bounds:
        ok, why = _restart_justified(config, load, current, target, capacity, measured)
        if not ok:
            return hold(Reason.RESTART_NOT_JUSTIFIED, f"{why}; {basis}", rec)
        basis = f"{basis}; {why}"
    state = replace(
        state,
        last_change=now,
        last_direction=direction,
        last_reversal=now if reversal else state.last_reversal,
    )
    reason = Reason.SCALE_UP if direction > 0 else Reason.SCALE_DOWN
    return Decision(now, current, target, rec, reason, f"{current} -> {target}: {basis}"), state
