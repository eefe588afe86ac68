"""Alert and anomaly rules over one device's readings, as pure Python.

The rules need memory of each device (its recent values, its previous value, how long a
value has stayed the same, when it was last heard), so they run inside Spark's per-group
state (:mod:`sensorpipe_spark.alerting`). Keeping the rules here, free of Spark, lets unit
tests drive them reading by reading and lets the state be a plain JSON document.

Rules (docs/contracts.md §1, `processing.alerts`):

- threshold: a value crosses a rule's `above`/`below` bound. Edge-triggered: one alert when
  the field enters violation, none while it stays there, so a hot device does not flood the
  alerts topic;
- anomaly: robust z-score of the value against the device's own values of the last
  `history` seconds (at least `minSamples`, at most MAX_HISTORY of them; only the fields in
  `anomaly.fields` when that list is set), see :func:`robust_z`. Edge-triggered like
  thresholds: a level shift raises one alert, not one per reading until the history has
  absorbed it;
- jump: the change from the previous reading exceeds the field's `maxDelta`;
- stuck: the same value for at least `after` seconds (one alert per run);
- silence: no reading for `after` seconds of event time (fired by a state timeout).

A reading the detector has already seen (same sequence number) is ignored, so a reading that
Kafka delivers twice is judged once; sequence numbers are remembered until the watermark
passes them, after which Spark drops a re-delivery before it reaches the detector.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_contract.runtime import AlertSpec
from sensorpipe_spark.config import JobConfig

MAX_HISTORY = 600
_MAD_SCALE = 0.6745  # median absolute deviation of a normal distribution, in sigmas
_MEAN_AD_SCALE = 0.7979  # mean absolute deviation of a normal distribution, in sigmas
_MAD_EFFICIENCY = 0.37  # the MAD's Gaussian efficiency: n samples weigh as 0.37·n for a scale


@dataclass(frozen=True)
class Alert:
    """One alert, in the fields of the alert record (docs/contracts.md §3)."""

    device_id: str
    stream: str
    field: str | None
    kind: str
    rule: str
    severity: str
    value: float | None
    threshold: float | None
    event_time: int
    message: str


@dataclass(frozen=True)
class Rules:
    """The alert settings plus what the rules must know about fields."""

    alerts: AlertSpec
    boolean_fields: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @classmethod
    def from_config(cls, cfg: JobConfig) -> Rules:
        """Rules of a pipeline: its alert block and which stream fields are booleans."""
        booleans = frozenset(
            (s.name, f.name) for s in cfg.streams for f in s.fields if f.is_boolean
        )
        return cls(alerts=cfg.alerts, boolean_fields=booleans)


def _slope(history: Sequence[Sequence[float]]) -> float:
    """Robust trend per ms: the median slope between readings half the history apart (a
    Theil–Sen estimate over n/2 pairs, so one outlier moves it no more than one pair)."""
    half = len(history) // 2
    slopes = [
        (b[1] - a[1]) / (b[0] - a[0])
        for a, b in zip(history, history[half:], strict=False)
        if b[0] != a[0]
    ]
    return statistics.median(slopes) if slopes else 0.0


def robust_z(value: float, t: int, history: Sequence[Sequence[float]]) -> float | None:
    """The robust z-score of ``value`` at time ``t`` against ``history`` ((time ms, value),
    in time order), or None when the history has no spread at all.

    `(x − median)/σ`, with three corrections that real sensor signals need:

    - the history is first detrended (:func:`_slope`), so that a daily cycle, which moves a
      temperature by a degree or more within an hour of history, is not itself an anomaly;
    - σ is the MAD of the detrended history (×1/0.6745), but at least the spread of
      consecutive changes (MAD of first differences ×1/(0.6745·√2)). Sensors report rounded
      values: with a few dozen samples on a 0.1 grid, half of them can sit on the two grid
      points around the median and make the MAD a fraction of the true spread; the changes
      between readings, twice as wide, are hit far less by the grid;
    - when even that is zero (a quantised, mostly constant signal), the mean absolute
      deviation, which the few values off the constant still move.
    """
    slope = _slope(history)
    level = [v - slope * (ht - t) for ht, v in history]
    med = statistics.median(level)
    sigma = statistics.median([abs(v - med) for v in level]) / _MAD_SCALE
    if len(history) > 1:
        steps = [abs(b[1] - a[1]) for a, b in itertools.pairwise(history)]
        sigma = max(sigma, statistics.median(steps) / (_MAD_SCALE * math.sqrt(2)))
    if sigma <= 0:
        sigma = statistics.fmean([abs(v - med) for v in level]) / _MEAN_AD_SCALE
    return (value - med) / sigma if sigma > 0 else None


def z_threshold(z_score: float, samples: int) -> float:
    """The spec's `zScore` for a σ estimated from ``samples`` readings.

    `zScore` is read as a tail probability under a normal model (3.5: about 5 in 10,000).
    With σ estimated by the MAD from n samples, the deviation follows Student's t with about
    0.37·(n − 1) degrees of freedom rather than the normal law, so the threshold moves to the
    same tail probability of that t (Cornish–Fisher expansion, Abramowitz & Stegun 26.7.5):
    3.5 becomes 6.1 at 20 samples, 3.8 at 100, 3.55 at 600. Without it a fresh device's first
    minutes, judged on a scale from a handful of readings, raise most false anomalies.
    """
    nu = max(_MAD_EFFICIENCY * (samples - 1), 1.0)
    z = z_score
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(g / nu ** (k + 1) for k, g in enumerate(terms))


def _time(entry: Sequence[float]) -> float:
    return entry[0]


def _field_state(state: dict[str, Any], name: str) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = state.setdefault("fields", {})
    return fields.setdefault(
        name, {"hist": [], "prev": None, "run": None, "stuck": False, "anom": False, "over": {}}
    )


class Detector:
    """Applies :class:`Rules` to one device-stream's readings, keeping state in a dict."""

    def __init__(
        self, rules: Rules, device_id: str, stream: str, state: dict[str, Any] | None
    ) -> None:
        self.rules = rules
        self.device_id = device_id
        self.stream = stream
        self.state: dict[str, Any] = state if state is not None else {}

    def _alert(
        self,
        fld: str | None,
        kind: str,
        rule: str,
        severity: str,
        value: float | None,
        threshold: float | None,
        event_time: int,
        message: str,
    ) -> Alert:
        return Alert(
            self.device_id,
            self.stream,
            fld,
            kind,
            rule,
            severity,
            value,
            threshold,
            event_time,
            message,
        )

    def observe(
        self, event_time: int, values: Mapping[str, float], seq: int | None = None, boot: int = 0
    ) -> list[Alert]:
        """Feed one reading (event time in ms, field → value, its sequence number and boot
        epoch if known) and return the alerts it raises; a reading seen before (same epoch
        and sequence number) raises nothing. Epoch 0 is remembered by the number alone, as
        before epochs existed, so the state a running job checkpointed stays valid."""
        if seq is not None:
            seen: dict[str, int] = self.state.setdefault("seen", {})
            ident = str(seq) if not boot else f"{boot}:{seq}"
            if ident in seen:
                return []
            seen[ident] = event_time
        self.state["last"] = max(int(self.state.get("last", event_time)), event_time)
        self.state["silent"] = False
        out: list[Alert] = []
        for name in sorted(values):
            out.extend(self._field(event_time, name, float(values[name])))
        return out

    def forget_before(self, watermark: int) -> None:
        """Drop the sequence numbers of readings older than ``watermark`` (event time, ms):
        Spark drops a re-delivery of those before it reaches the detector."""
        seen = self.state.get("seen")
        if seen:
            self.state["seen"] = {s: t for s, t in seen.items() if t >= watermark}

    def _field(self, t: int, name: str, x: float) -> list[Alert]:
        a = self.rules.alerts
        fs = _field_state(self.state, name)
        out = self._thresholds(fs, t, name, x)
        if (self.stream, name) in self.rules.boolean_fields:
            return out
        prev = fs["prev"]
        in_order = prev is None or t >= prev[0]
        # fs["hist"] is kept in time order: the window is a slice found by bisection
        kept: list[list[float]] = fs["hist"]
        oldest = bisect.bisect_left(kept, t - a.history * 1000, key=_time)
        hist = kept[oldest : bisect.bisect_left(kept, float(t), key=_time)]
        checked = not a.anomaly_fields or name in a.anomaly_fields
        if a.anomaly_enabled and checked and len(hist) >= a.min_samples:
            z = robust_z(x, t, hist)
            limit = z_threshold(a.z_score, len(hist))
            anomalous = z is not None and abs(z) > limit
            if anomalous and not fs["anom"]:
                out.append(
                    self._alert(
                        name,
                        "anomaly",
                        "anomaly",
                        "warning",
                        x,
                        round(limit, 2),
                        t,
                        f"{name}={x:g} has robust z-score {z:.1f} (limit {limit:.1f}) against "
                        f"the last {len(hist)} readings (median "
                        f"{statistics.median(v for _, v in hist):g})",
                    )
                )
            fs["anom"] = anomalous
        if in_order:
            out.extend(self._jump_and_stuck(fs, t, name, x))
            fs["prev"] = [t, x]
        del kept[:oldest]
        bisect.insort(kept, [t, x], key=_time)
        del kept[:-MAX_HISTORY]
        return out

    def _thresholds(self, fs: dict[str, Any], t: int, name: str, x: float) -> list[Alert]:
        out = []
        for rule in self.rules.alerts.thresholds:
            if rule.stream != self.stream or rule.field != name:
                continue
            above = rule.above is not None and x > rule.above
            below = rule.below is not None and x < rule.below
            violated = above or below
            if violated and not fs["over"].get(rule.name, False):
                bound = rule.above if above else rule.below
                side = "above" if above else "below"
                out.append(
                    self._alert(
                        name,
                        "threshold",
                        rule.name,
                        rule.severity,
                        x,
                        bound,
                        t,
                        f"{name}={x:g} is {side} {bound:g} (rule {rule.name})",
                    )
                )
            fs["over"][rule.name] = violated
        return out

    def _jump_and_stuck(self, fs: dict[str, Any], t: int, name: str, x: float) -> list[Alert]:
        a = self.rules.alerts
        out = []
        prev = fs["prev"]
        limit = a.max_delta.get(name)
        if a.jump_enabled and limit is not None and prev is not None and abs(x - prev[1]) > limit:
            out.append(
                self._alert(
                    name,
                    "jump",
                    "jump",
                    "warning",
                    x,
                    limit,
                    t,
                    f"{name} jumped from {prev[1]:g} to {x:g} (more than {limit:g})",
                )
            )
        run = fs["run"]
        if run is None or run[1] != x:
            fs["run"], fs["stuck"] = [t, x], False
        elif a.stuck_enabled and not fs["stuck"] and t - run[0] >= a.stuck_after * 1000:
            fs["stuck"] = True
            out.append(
                self._alert(
                    name,
                    "stuck",
                    "stuck",
                    "warning",
                    x,
                    a.stuck_after,
                    t,
                    f"{name} has read {x:g} since {run[0]} ms ({(t - run[0]) / 1000:g}s)",
                )
            )
        return out

    def silence_deadline(self) -> int | None:
        """Event time (ms) after which the device counts as silent, or None if disabled."""
        if not self.rules.alerts.silence_enabled or "last" not in self.state:
            return None
        return int(self.state["last"] + self.rules.alerts.silence_after * 1000)

    def silence(self, watermark: int) -> list[Alert]:
        """The silence alert once the watermark has passed the deadline (one per silence)."""
        deadline = self.silence_deadline()
        if deadline is None or self.state.get("silent") or watermark < deadline:
            return []
        self.state["silent"] = True
        last = int(self.state["last"])
        quiet = (watermark - last) / 1000
        return [
            self._alert(
                None,
                "silence",
                "silence",
                "critical",
                quiet,
                self.rules.alerts.silence_after,
                last,
                f"no reading from {self.device_id}/{self.stream} for {quiet:g}s",
            )
        ]


def run(
    rules: Rules,
    device_id: str,
    stream: str,
    readings: Iterable[tuple[int, Mapping[str, float]]],
    state: dict[str, Any] | None = None,
) -> tuple[list[Alert], dict[str, Any]]:
    """Feed readings in event-time order from a fresh or given state; what unit tests drive."""
    det = Detector(rules, device_id, stream, state)
    out: list[Alert] = []
    for t, values in sorted(readings, key=lambda r: r[0]):
        out.extend(det.observe(t, values))
    return out, det.state
