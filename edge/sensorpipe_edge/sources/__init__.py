"""Where lines come from: a serial port, an MQTT broker, simulated devices, or a Kafka topic.

Each source runs its own thread and hands batches of (line, ack) to ``emit``; ``ack`` is
called once the line's record is safe (in Kafka or the spool) and lets a source release
its input upstream (MQTT PUBACK) or persist a resume point (simulated devices).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from sensorpipe_edge.payload import PayloadMapping

Ack = Callable[[], object]
Item = tuple[bytes, Ack | None]


class Emit(Protocol):
    """Hand a batch to the gateway; ``origin`` says where exactly it came from when that is
    finer than the source's name (the MQTT topic a message was published on, not the
    subscription filter; a Kafka record's topic, partition and offset), so a dead letter
    can be traced to its device. ``seq`` is a sequence number the source knows for a batch
    of one foreign payload that has none (derived from a Kafka record's coordinates).
    ``redelivered`` says the source is presenting the batch again (an MQTT redelivery)."""

    def __call__(
        self,
        items: list[Item],
        origin: str | None = None,
        seq: int | None = None,
        redelivered: bool = False,
    ) -> None: ...


class Source:
    """Base of the sources: a named thread with a stop flag and a connected state."""

    name = "source"
    # Whether its items carry acks: the sink then reports every delivery (see sink.py).
    acks = True
    # Whether every line it presents a second time comes with ``redelivered``: then a
    # device's number going backwards in a fresh line is the device's reboot (boots.py).
    tells_redeliveries = False
    # The declared mapping when its items are foreign JSON payloads, not protocol lines.
    payload: PayloadMapping | None = None

    def __init__(self) -> None:
        self.connected = False
        self.finished = False  # a source with an end (a simulation's duration) sets it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, emit: Emit) -> None:
        self._thread = threading.Thread(target=self.run, args=(emit,), name=self.name, daemon=True)
        self._thread.start()

    def run(self, emit: Emit) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Release what must outlive ``stop`` until the gateway flushed (a Kafka source
        commits the offsets the last acknowledgements stored)."""
