"""Simulated source: a Fleet of virtual devices feeding the gateway in-process, in real time.

On start it resumes from the gateway's resume points (the last tick whose readings were
all safe), regenerating what a crash had not delivered (at most ``max_backlog_ms`` of it),
then keeps pace with the wall clock; ``duration_ms`` > 0 ends it after that long.
"""

from __future__ import annotations

import time
from functools import partial

from sensorpipe_edge.resume import ResumePoints
from sensorpipe_edge.simulation import Fleet
from sensorpipe_edge.sources import Emit, Item, Source


class SimulatedSource(Source):
    def __init__(
        self,
        fleet: Fleet,
        resume: ResumePoints | None = None,
        duration_ms: int = 0,
        max_backlog_ms: int = 600_000,
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.resume = resume
        self.duration_ms = duration_ms
        self.max_backlog_ms = max_backlog_ms
        self.name = f"simulated:{len(fleet.device_ids)}"

    def first_tick(self, now_tick: int) -> int:
        """Where to start: the oldest device's resume tick, or now when there is none."""
        interval = self.fleet.interval_ms
        marks = [
            s
            for d in self.fleet.device_ids
            if self.resume is not None and (s := self.resume.get(d)) is not None
        ]
        if not marks:
            return now_tick
        oldest = self.fleet.tick_of(min(marks))
        return max(oldest, now_tick - self.max_backlog_ms // interval)

    def run(self, emit: Emit) -> None:
        fleet, interval = self.fleet, self.fleet.interval_ms
        tick = self.first_tick(int(time.time() * 1000) // interval)
        end = tick + self.duration_ms // interval if self.duration_ms else None
        self.connected = True
        while not self._stop.is_set() and (end is None or tick < end):
            now_tick = int(time.time() * 1000) // interval
            if tick > now_tick:
                self._stop.wait((tick * interval - time.time() * 1000) / 1000)
                continue
            batch: list[Item] = []
            for device_id, seq, line in fleet.readings(tick):
                ack = partial(self.resume.acked, device_id, seq) if self.resume else None
                batch.append((line, ack))
            if batch:
                emit(batch)
            tick += 1
        self.finished = True
