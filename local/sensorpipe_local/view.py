"""The dashboard's in-memory picture of a pipeline, bounded whatever the traffic.

Pure: records in (already decoded), a JSON-ready state out. Per device it keeps the last
few readings of each field, the latest aggregate window of each field and a count of
alerts; across devices, the most recent alerts. Limits on devices and history keep memory
fixed for a fleet of thousands running for hours.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

HISTORY = 40  # readings kept per device and field
RECENT_ALERTS = 50
MAX_DEVICES = 5000


@dataclass
class DeviceView:
    device_id: str
    last_seen: int = 0  # epoch ms of the newest reading
    readings: int = 0
    latest: dict[str, Any] = field(default_factory=dict)  # field -> value
    history: dict[str, deque[tuple[int, float]]] = field(default_factory=dict)
    aggregates: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> window
    alerts: int = 0


class PipelineView:
    """Thread-safe: a Kafka thread writes, HTTP threads read. ``fields`` are the declared
    fields (name, label with unit) whose history the page draws, in the spec's order."""

    def __init__(self, pipeline: str, fields: list[tuple[str, str]]) -> None:
        self.pipeline = pipeline
        self.fields = fields
        self._lock = threading.Lock()
        self._devices: dict[str, DeviceView] = {}
        self._alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)
        self.totals = {"readings": 0, "aggregates": 0, "alerts": 0, "dropped_devices": 0}

    def _device(self, device_id: str) -> DeviceView | None:
        dev = self._devices.get(device_id)
        if dev is None:
            if len(self._devices) >= MAX_DEVICES:
                self.totals["dropped_devices"] += 1
                return None
            dev = self._devices[device_id] = DeviceView(device_id)
        return dev

    def add_reading(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self.totals["readings"] += 1
            dev = self._device(str(rec.get("device_id", "?")))
            if dev is None:
                return
            when = int(rec.get("event_time") or rec.get("received_at") or 0)
            dev.readings += 1
            dev.last_seen = max(dev.last_seen, when)
            for name, value in (rec.get("values") or {}).items():
                dev.latest[name] = value
                if isinstance(value, bool | int | float):
                    hist = dev.history.setdefault(name, deque(maxlen=HISTORY))
                    hist.append((when, float(value)))

    def add_aggregate(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self.totals["aggregates"] += 1
            dev = self._device(str(rec.get("device_id", "?")))
            if dev is None:
                return
            name = str(rec.get("field", "?"))
            current = dev.aggregates.get(name)
            if current is None or rec.get("window_start", 0) >= current.get("window_start", 0):
                dev.aggregates[name] = {
                    k: rec.get(k)
                    for k in ("window_start", "window_end", "count", "min", "max", "mean")
                }

    def add_alert(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self.totals["alerts"] += 1
            self._alerts.appendleft(
                {
                    k: rec.get(k)
                    for k in ("device_id", "field", "kind", "severity", "value", "event_time")
                }
                | {"message": rec.get("message", "")}
            )
            dev = self._device(str(rec.get("device_id", "?")))
            if dev is not None:
                dev.alerts += 1

    def state(self, limit: int = 200) -> dict[str, Any]:
        """The newest ``limit`` devices (by last reading), then every recent alert."""
        with self._lock:
            devices = sorted(self._devices.values(), key=lambda d: (-d.last_seen, d.device_id))
            return {
                "pipeline": self.pipeline,
                "fields": [{"name": name, "label": label} for name, label in self.fields],
                "totals": dict(self.totals),
                "device_count": len(self._devices),
                "devices": [
                    {
                        "device_id": d.device_id,
                        "last_seen": d.last_seen,
                        "readings": d.readings,
                        "latest": dict(d.latest),
                        "history": {k: [v for _, v in h] for k, h in d.history.items()},
                        "aggregates": {k: dict(v) for k, v in d.aggregates.items()},
                        "alerts": d.alerts,
                    }
                    for d in devices[:limit]
                ],
                "alerts": list(self._alerts),
            }
