"""Alert and anomaly rules over one device's readings, as pure Python.

The rules need memory of each device (its recent values, its previous value, how long a
value has stayed the same, when it was last heard), so they run inside Spark's per-group
state (:mod:`sensorpipe_spark.alerting`). Keeping the rules here, free of Spark, lets unit
tests drive them reading by reading and lets the state be a plain JSON document.

Rules (docs/contracts.md §1, `processing.alerts`):

- threshold: a value crosses a rule's `above`/`below` bound. Edge-triggered: one alert when
  the field enters violation, none while it stays there, so a hot device does not flood the
  alerts topic;
- anomaly: robust z-score `0.6745·(x − median)/MAD` against the device's own values of the
  last `history` seconds (at least `minSamples`, at most MAX_HISTORY of them), falling back
  to the mean absolute deviation when the MAD is zero (quantised sensors). Edge-triggered
  like thresholds: a level shift raises one alert, not one per reading until the history
  has absorbed it;
- jump: the change from the previous reading exceeds the field's `maxDelta`;
- stuck: the same value for at least `after` seconds (one alert per run);
- silence: no reading for `after` seconds of event time (fired by a state timeout).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_spark.config import AlertSpec, JobConfig

MAX_HISTORY = 600
_MAD_SCALE = 0.6745
_MEAN_AD_SCALE = 0.7979  # mean absolute deviation of a normal distribution, in sigmas


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


def robust_z(value: float, history: list[float]) -> float | None:
    """The robust z-score of ``value`` against ``history``, or None when it is undefined."""
    med = statistics.median(history)
    mad = statistics.median(abs(v - med) for v in history)
    if mad > 0:
        return _MAD_SCALE * (value - med) / mad
    mean_ad = statistics.fmean(abs(v - med) for v in history)
    if mean_ad > 0:
        return _MEAN_AD_SCALE * (value - med) / mean_ad
    return None


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

    def observe(self, event_time: int, values: Mapping[str, float]) -> list[Alert]:
        """Feed one reading (event time in ms, field → value) and return the alerts it raises."""
        self.state["last"] = max(int(self.state.get("last", event_time)), event_time)
        self.state["silent"] = False
        out: list[Alert] = []
        for name in sorted(values):
            out.extend(self._field(event_time, name, float(values[name])))
        return out

    def _field(self, t: int, name: str, x: float) -> list[Alert]:
        a = self.rules.alerts
        fs = _field_state(self.state, name)
        out = self._thresholds(fs, t, name, x)
        if (self.stream, name) in self.rules.boolean_fields:
            return out
        prev = fs["prev"]
        in_order = prev is None or t >= prev[0]
        hist = [v for ht, v in fs["hist"] if t - a.history * 1000 <= ht < t]
        if a.anomaly_enabled and len(hist) >= a.min_samples:
            z = robust_z(x, hist)
            anomalous = z is not None and abs(z) > a.z_score
            if anomalous and not fs["anom"]:
                out.append(
                    self._alert(
                        name,
                        "anomaly",
                        "anomaly",
                        "warning",
                        x,
                        a.z_score,
                        t,
                        f"{name}={x:g} has robust z-score {z:.1f} against the last "
                        f"{len(hist)} readings (median {statistics.median(hist):g})",
                    )
                )
            fs["anom"] = anomalous
        if in_order:
            out.extend(self._jump_and_stuck(fs, t, name, x))
            fs["prev"] = [t, x]
        fs["hist"] = [h for h in fs["hist"] if h[0] >= t - a.history * 1000] + [[t, x]]
        fs["hist"].sort(key=lambda h: h[0])
        del fs["hist"][:-MAX_HISTORY]
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
