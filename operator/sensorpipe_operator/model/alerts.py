"""The alert rules Spark applies: thresholds, anomaly scores, jumps, stuck sensors and silent
devices, checked against the streams' fields they name."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorpipe_operator.model.cursor import NAME_PATTERN, Cursor, unique
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.streams import Stream

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Threshold:
    name: str
    stream: str
    field: str
    above: float | None = None
    below: float | None = None
    severity: str = "warning"


@dataclass(frozen=True)
class Anomaly:
    enabled: bool = True
    z_score: float = 3.5
    history: float = 3600.0
    min_samples: int = 20
    fields: tuple[str, ...] = ()  # empty: every numeric field


@dataclass(frozen=True)
class Jump:
    enabled: bool = False
    max_delta: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AfterRule:
    """The shape shared by the stuck-sensor and silent-device rules."""

    enabled: bool
    after: float


@dataclass(frozen=True)
class Alerts:
    thresholds: tuple[Threshold, ...] = ()
    anomaly: Anomaly = field(default_factory=Anomaly)
    jump: Jump = field(default_factory=Jump)
    stuck: AfterRule = field(default_factory=lambda: AfterRule(True, 600.0))
    silence: AfterRule = field(default_factory=lambda: AfterRule(True, 300.0))


def parse_alerts(cur: Cursor, streams: tuple[Stream, ...]) -> Alerts:
    tcurs = cur.items("thresholds")
    unique(tcurs, "name")
    by_name = {s.name: s for s in streams}
    thresholds = []
    for tcur in tcurs:
        rule = Threshold(
            name=tcur.string("name", pattern=NAME_PATTERN, max_len=63),
            stream=tcur.string("stream"),
            field=tcur.string("field"),
            above=tcur.number("above"),
            below=tcur.number("below"),
            severity=tcur.string("severity", "warning", choices=SEVERITIES),
        )
        if rule.stream not in by_name:
            raise SpecError(tcur.at("stream"), f"names no stream in spec.streams: {rule.stream!r}")
        if rule.field not in {f.name for f in by_name[rule.stream].fields}:
            raise SpecError(tcur.at("field"), f"is no field of stream {rule.stream!r}")
        if rule.above is None and rule.below is None:
            raise SpecError(tcur.path, "needs above, below or both")
        _reachable(rule, by_name[rule.stream], tcur.at("above"), tcur.at("below"))
        thresholds.append(rule)
    acur, jcur = cur.obj("anomaly"), cur.obj("jump")
    return Alerts(
        thresholds=tuple(thresholds),
        anomaly=Anomaly(
            enabled=acur.boolean("enabled", True),
            z_score=_positive(acur, "zScore", 3.5),
            history=acur.duration("history", "1h"),
            min_samples=acur.integer("minSamples", 20, 2, 1_000_000),
            fields=_anomaly_fields(acur, streams),
        ),
        jump=Jump(enabled=jcur.boolean("enabled", False), max_delta=jcur.num_map("maxDelta")),
        stuck=_after(cur.obj("stuck"), "10m"),
        silence=_after(cur.obj("silence"), "5m"),
    )


def _reachable(rule: Threshold, stream: Stream, above_at: str, below_at: str) -> None:
    """Readings outside a field's [min, max] are dead-lettered before alerting, so a threshold
    at or beyond the range could never fire."""
    fld = next(f for f in stream.fields if f.name == rule.field)
    if rule.above is not None and fld.max is not None and rule.above >= fld.max:
        raise SpecError(above_at, f"{rule.above} can never fire: {rule.field}'s max is {fld.max}")
    if rule.below is not None and fld.min is not None and rule.below <= fld.min:
        raise SpecError(below_at, f"{rule.below} can never fire: {rule.field}'s min is {fld.min}")


def _anomaly_fields(cur: Cursor, streams: tuple[Stream, ...]) -> tuple[str, ...]:
    raw = cur.data.get("fields") or []
    if not isinstance(raw, list):
        raise SpecError(cur.at("fields"), "must be a list")
    known = {f.name for s in streams for f in s.fields}
    for i, name in enumerate(raw):
        if name not in known:
            raise SpecError(f"{cur.at('fields')}[{i}]", f"is no field of any stream: {name!r}")
    return tuple(str(n) for n in raw)


def _positive(cur: Cursor, key: str, default: float) -> float:
    value = cur.number(key, default)
    if value is None or value <= 0:
        raise SpecError(cur.at(key), "must be above zero")
    return value


def _after(cur: Cursor, default: str) -> AfterRule:
    after = cur.duration("after", default)
    if after <= 0:
        raise SpecError(cur.at("after"), "must be above zero")
    return AfterRule(enabled=cur.boolean("enabled", True), after=after)
