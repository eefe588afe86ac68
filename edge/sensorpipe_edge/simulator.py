"""``sensorpipe-sim``: N virtual devices sending protocol lines to a pty, MQTT or stdout.

The same Fleet the gateway's simulated source uses, as a separate process, for feeding a
gateway from outside: as a serial device on a pty (``--pty PATH``), through an MQTT
broker (``--mqtt URL``, QoS 1, topic ``<prefix>/<device>``), or on stdout. Deterministic
for a given ``--seed``; faults as ``--fault name=rate`` (stuck, spike, dropout, silent,
corrupt). ``--interval`` and ``--duration`` are seconds, as in the seeds' producers.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sensorpipe_contract import runtime
from sensorpipe_edge.config import stream_index
from sensorpipe_edge.ptydevice import PtyDevice
from sensorpipe_edge.simulation import Faults, Fleet

log = logging.getLogger("sensorpipe_edge.simulator")
Writer = Callable[[str, bytes], object]


def mqtt_writer(url: str, prefix: str) -> tuple[Writer, Callable[[], None]]:
    """Publish each line at QoS 1 to ``<prefix>/<device>``; returns (write, close)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from sensorpipe_edge.sources.mqtt import host_port

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    client.max_queued_messages_set(0)
    host, port = host_port(url)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    pending = []

    def write(device: str, line: bytes) -> None:
        pending.append(client.publish(f"{prefix}/{device}", line.rstrip(b"\r\n"), qos=1))
        if len(pending) > 1000:
            for info in pending:
                info.wait_for_publish(30)
            pending.clear()

    def close() -> None:
        for info in pending:
            info.wait_for_publish(30)
        client.disconnect()
        client.loop_stop()

    return write, close


def run(fleet: Fleet, write: Writer, stop: threading.Event, duration_s: float, fast: bool) -> int:
    """Send every tick's lines at its wall time (or as fast as possible); lines sent."""
    interval = fleet.interval_ms
    tick = int(time.time() * 1000) // interval
    end = tick + int(duration_s * 1000) // interval if duration_s else None
    sent = 0
    while not stop.is_set() and (end is None or tick < end):
        if not fast:
            wait = (tick * interval - time.time() * 1000) / 1000
            if wait > 0 and stop.wait(wait):
                break
        for device, _seq, line in fleet.readings(tick):
            write(device, line)
            sent += 1
        tick += 1
    return sent


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--devices", type=int, default=10)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    p.add_argument("--duration", type=float, default=0.0, help="seconds; 0 = forever")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--prefix", default="sim", help="device id prefix")
    p.add_argument("--fault", action="append", default=[], metavar="NAME=RATE")
    p.add_argument("--config", help="runtime config JSON: simulate its streams")
    p.add_argument("--fast", action="store_true", help="do not wait for wall-clock ticks")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--pty", type=Path, help="serve the lines on a pty symlinked here")
    out.add_argument("--mqtt", help="publish to this MQTT broker URL")
    p.add_argument("--topic-prefix", default="sensors")
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    faults = Faults.from_mapping(
        {k: float(v) for k, _, v in (f.partition("=") for f in args.fault)}
    )
    streams = stream_index(runtime.load(args.config)) if args.config else None
    fleet = Fleet(
        args.devices, round(args.interval * 1000), args.seed, streams, faults, args.prefix
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    close: Callable[[], None] = lambda: None  # noqa: E731
    if args.pty:
        device = PtyDevice(args.pty)
        print(f"PTY {args.pty}", flush=True)
        write: Writer = lambda _d, line: device.write(line)  # noqa: E731
        close = device.close
    elif args.mqtt:
        write, close = mqtt_writer(args.mqtt, args.topic_prefix)
    else:
        write = lambda _d, line: sys.stdout.buffer.write(line)  # noqa: E731
    try:
        sent = run(fleet, write, stop, args.duration, args.fast)
    finally:
        close()
    log.info("sent %d lines from %d devices", sent, args.devices)
