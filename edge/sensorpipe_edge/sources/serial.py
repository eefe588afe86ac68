"""Serial source (pyserial): reads protocol lines and survives the device going away.

When the port disappears (USB unplugged, pty closed) the read fails; the unfinished line
is passed on (it fails its checksum and lands in the dead-letter topic as a cut line) and
the port is reopened every ``retry`` seconds until the device is back.
"""

from __future__ import annotations

import logging

import serial

from sensorpipe_edge.framing import LineFramer
from sensorpipe_edge.sources import Emit, Source

log = logging.getLogger(__name__)


class SerialSource(Source):
    acks = False  # a device cannot resend: nothing to acknowledge to
    tells_redeliveries = True  # it never presents a line twice

    def __init__(self, device: str, baud_rate: int = 115200, retry: float = 0.5) -> None:
        super().__init__()
        self.device = device
        self.baud_rate = baud_rate
        self.retry = retry
        self.name = f"serial:{device}"

    def run(self, emit: Emit) -> None:
        while not self._stop.is_set():
            try:
                port = serial.Serial(self.device, self.baud_rate, timeout=0.1)
            except (serial.SerialException, OSError) as exc:
                log.debug("cannot open %s: %s", self.device, exc)
                self._stop.wait(self.retry)
                continue
            log.info("serial port %s open", self.device)
            self.connected = True
            framer = LineFramer()
            try:
                while not self._stop.is_set():
                    data = port.read(max(1, port.in_waiting))
                    lines = framer.feed(data) if data else []
                    if lines:
                        emit([(line, None) for line in lines])
            except (serial.SerialException, OSError) as exc:
                log.warning("serial port %s lost: %s", self.device, exc)
            finally:
                self.connected = False
                port.close()
                cut = framer.flush()
                if cut:
                    emit([(cut[0], None)])
