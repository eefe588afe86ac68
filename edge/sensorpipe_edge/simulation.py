"""Virtual sensor devices: realistic signals and injectable faults, deterministic by seed.

Everything is a pure function of (seed, device, tick): a device's reading at tick ``k``
is the same in every run and after every restart, which is what lets a restarted gateway
regenerate exactly what it had not yet delivered, and lets tests predict what must come
out. A tick is ``epoch_ms // interval_ms``; a device's sequence number is
``tick * n_streams + stream_index``, so numbers never repeat across restarts and a gap
means a reading that never arrived.

Signals: a daily temperature cycle per device (its own base and phase) with noise,
humidity falling as temperature rises, distances that hold for a while and then change
(something moved), motion in bursts. Faults: ``stuck`` (a fraction of devices freeze
their values after a while), ``spike`` (per-reading chance of a jump), ``dropout``
(per-reading chance the line is lost), ``silent`` (a fraction of devices stop sending)
and ``corrupt`` (per-line chance of one flipped bit, which the gateway must catch).

A fault rate of 1.0 makes every device of a fleet faulty, so a test picks the device and the
fault by building a small fleet for it (its own ``prefix``), and :func:`simulate` runs any
fleet through simulated time, an hour in a few seconds, without waiting for the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sensorpipe_contract.fields import FieldSpec
from sensorpipe_edge.config import StreamSpec
from sensorpipe_edge.protocol import encode

_MASK = (1 << 64) - 1
DAY_MS = 86_400_000
FAULT_ONSET_TICKS = 30  # stuck / silent devices behave for this long first


def _mix(*parts: int) -> int:
    """A well-spread deterministic 64-bit hash of the parts: CPython's tuple hash (fixed for
    ints, unlike for str) through the splitmix64 finaliser. Cheap, which matters per value."""
    z = hash(parts) & _MASK
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & _MASK
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _MASK
    return z ^ (z >> 31)


def unit(*parts: int) -> float:
    """A deterministic number in [0, 1) for the given parts."""
    return _mix(*parts) / 2.0**64


def _noise(*parts: int) -> float:
    """Roughly normal, mean 0, sd about 1 (sum of three uniforms)."""
    return (unit(*parts, 1) + unit(*parts, 2) + unit(*parts, 3) - 1.5) * 2.0


@dataclass(frozen=True)
class Faults:
    stuck: float = 0.0
    spike: float = 0.0
    dropout: float = 0.0
    silent: float = 0.0
    corrupt: float = 0.0

    @classmethod
    def from_mapping(cls, m: Mapping[str, float]) -> Faults:
        unknown = set(m) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown simulator faults: {sorted(unknown)}")
        return cls(**{k: float(v) for k, v in m.items()})


DEFAULT_STREAMS = {
    "climate": StreamSpec(
        "climate",
        "climate",
        {
            "temperature": FieldSpec("temperature", "number", min=-40, max=80),
            "humidity": FieldSpec("humidity", "number", min=0, max=100),
        },
    ),
    "distance": StreamSpec(
        "distance", "distance", {"distance": FieldSpec("distance", "number", min=2, max=400)}
    ),
    "motion": StreamSpec("motion", "motion", {"motion": FieldSpec("motion", "boolean")}),
}


class Fleet:
    """N simulated devices over a set of streams."""

    def __init__(
        self,
        devices: int,
        interval_ms: int,
        seed: int,
        streams: Mapping[str, StreamSpec] | None = None,
        faults: Faults | None = None,
        prefix: str = "sim",
    ) -> None:
        self.interval_ms = interval_ms
        self.seed = seed
        self.streams = list((streams or DEFAULT_STREAMS).values())
        self.faults = faults or Faults()
        self.device_ids = [f"{prefix}-{i:05d}" for i in range(devices)]
        self._stuck = {i for i in range(devices) if unit(seed, i, 11) < self.faults.stuck}
        self._silent = {i for i in range(devices) if unit(seed, i, 12) < self.faults.silent}
        self._first_tick: int | None = None

    @property
    def onset_tick(self) -> int | None:
        """The first tick at which stuck and silent devices misbehave (None before the first
        tick has been generated: the faults start FAULT_ONSET_TICKS after it)."""
        return None if self._first_tick is None else self._first_tick + FAULT_ONSET_TICKS

    def spiked(self, dev: int, seq: int) -> bool:
        """Whether reading ``seq`` of device number ``dev`` carries a spike."""
        return bool(self.faults.spike) and unit(self.seed, dev, seq, 42) < self.faults.spike

    def seq(self, tick: int, stream_index: int) -> int:
        return tick * len(self.streams) + stream_index

    def tick_of(self, seq: int) -> int:
        return seq // len(self.streams)

    def value(self, dev: int, tick: int, spec: FieldSpec) -> float | bool:
        """The clean signal of one field (before faults), inside the field's range."""
        s = self.seed
        t_ms = tick * self.interval_ms
        name = spec.name
        if spec.type == "boolean":
            burst = unit(s, dev, tick // 5, 21)  # motion comes in bursts of ~5 readings
            return burst < 0.1
        lo = spec.min if spec.min is not None else 0.0
        hi = spec.max if spec.max is not None else 100.0
        base_temp = 12.0 + 10.0 * unit(s, dev, 1)
        daily = math.sin(2 * math.pi * ((t_ms % DAY_MS) / DAY_MS - 0.375 + 0.05 * unit(s, dev, 2)))
        if name == "temperature":
            v = base_temp + 6.0 * daily + 0.3 * _noise(s, dev, tick, 31)
        elif name == "humidity":
            v = 75.0 - 1.5 * (6.0 * daily) - 10.0 * unit(s, dev, 3) + 1.0 * _noise(s, dev, tick, 32)
        elif name == "distance":
            hold = tick // (20 + int(40 * unit(s, dev, 4)))
            v = 20.0 + 300.0 * unit(s, dev, hold, 33) + 0.5 * _noise(s, dev, tick, 34)
        else:
            v = lo + (hi - lo) * (0.5 + 0.25 * daily) + (hi - lo) * 0.01 * _noise(s, dev, tick, 35)
        return round(min(max(v, lo), hi), 1)

    def readings(self, tick: int) -> Iterator[tuple[str, int, bytes]]:
        """(device_id, seq, line) of every line sent at ``tick``, faults applied."""
        if self._first_tick is None:
            self._first_tick = tick
        s, f = self.seed, self.faults
        onset = self._first_tick + FAULT_ONSET_TICKS
        epoch_ms = tick * self.interval_ms
        for dev, device_id in enumerate(self.device_ids):
            if dev in self._silent and tick >= onset:
                continue
            value_tick = min(tick, onset) if dev in self._stuck else tick
            for j, stream in enumerate(self.streams):
                seq = self.seq(tick, j)
                if f.dropout and unit(s, dev, seq, 41) < f.dropout:
                    continue
                values: dict[str, float | bool] = {}
                for spec in stream.fields.values():
                    v = self.value(dev, value_tick, spec)
                    if f.spike and spec.type == "number" and self.spiked(dev, seq):
                        lo = spec.min if spec.min is not None else 0.0
                        hi = spec.max if spec.max is not None else 100.0
                        v = round(min(max(float(v) + 0.6 * (hi - lo), lo), hi), 1)
                    values[spec.name] = v
                line = encode(device_id, seq, stream.name, values, epoch_ms=epoch_ms)
                if f.corrupt and unit(s, dev, seq, 43) < f.corrupt:
                    line = corrupt(line, _mix(s, dev, seq, 44))
                yield device_id, seq, line


def simulate(fleet: Fleet, start_ms: int, end_ms: int) -> Iterator[tuple[int, str, int, bytes]]:
    """(epoch ms, device_id, seq, line) of every line the fleet sends from ``start_ms`` up to
    ``end_ms`` of simulated time, tick by tick."""
    interval = fleet.interval_ms
    for tick in range(-(-start_ms // interval), -(-end_ms // interval)):
        for device_id, seq, line in fleet.readings(tick):
            yield tick * interval, device_id, seq, line


def corrupt(line: bytes, h: int) -> bytes:
    """Flip one bit of one byte between '$' and '*' (what line noise does to a UART)."""
    star = line.rfind(b"*")
    pos = 1 + h % max(star - 1, 1)
    b = bytearray(line)
    b[pos] ^= 1 << ((h >> 32) % 7)  # never bit 7: keep it ASCII, so only the CRC can tell
    return bytes(b)
