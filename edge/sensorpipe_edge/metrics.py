"""Counters of the gateway and the HTTP endpoints that expose them (/metrics, /healthz, /readyz).

The hot loop bumps plain integers on a ``Stats`` object (a prometheus_client labelled
counter costs about a microsecond per call, which is real money at 100k readings/s); a
custom collector turns them into Prometheus metrics only when /metrics is scraped.
Counters follow Prometheus naming: the exposition adds ``_total``.
"""

from __future__ import annotations

import platform
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version

from prometheus_client import CollectorRegistry, Histogram, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "sensorpipe_gateway"


@dataclass
class Stats:
    readings_in: Counter[str] = field(default_factory=Counter)  # by source
    device_readings: Counter[bytes] = field(default_factory=Counter)  # records, by device id
    published: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by reason
    reboots: Counter[bytes] = field(default_factory=Counter)  # counters restarted, by device
    spooled: int = 0
    spool_dropped: int = 0
    replayed: int = 0
    spool_bytes: int = 0
    kafka_online: bool = True
    source_connected: bool = False
    heartbeat: float = field(default_factory=time.monotonic)


class StatsCollector(Collector):
    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self._stats
        for name, doc, label, counts in (
            ("readings_in", "Lines or messages received", "source", s.readings_in),
            ("rejected", "Inputs sent to the dead-letter topic", "reason", s.rejected),
        ):
            family = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=[label])
            for value, n in counts.items():
                family.add_metric([value], n)
            yield family
        for name, doc, by_device in (
            ("device_readings", "Readings sent to Kafka, by device", s.device_readings),
            ("device_reboots", "Sequence restarts (a new boot epoch), by device", s.reboots),
        ):
            devices = CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=["device"])
            for device, n in list(by_device.items()):
                devices.add_metric([device.decode(errors="replace")], n)
            yield devices
        for kind, name, doc, number in (
            (CounterMetricFamily, "published", "Records acknowledged by Kafka", s.published),
            (CounterMetricFamily, "spooled", "Records written to the spool", s.spooled),
            (CounterMetricFamily, "spool_dropped", "Records lost to a full spool", s.spool_dropped),
            (CounterMetricFamily, "replayed", "Spooled records delivered later", s.replayed),
            (GaugeMetricFamily, "spool_bytes", "Bytes waiting in the spool", s.spool_bytes),
            (GaugeMetricFamily, "kafka_online", "1 while Kafka accepts records", s.kafka_online),
            (GaugeMetricFamily, "source_connected", "1 while connected", s.source_connected),
        ):
            yield kind(f"{PREFIX}_{name}", doc, value=float(number))


def make_registry(stats: Stats) -> tuple[CollectorRegistry, Histogram]:
    """A registry with the stats, the build and the producer latency histogram it also exposes."""
    registry = CollectorRegistry()
    registry.register(StatsCollector(stats))
    Info(
        "sensorpipe_build", "The running build: component, version and Python.", registry=registry
    ).info(
        {
            "component": "gateway",
            "version": version("sensorpipe-edge"),
            "python": platform.python_version(),
        }
    )
    latency = Histogram(
        f"{PREFIX}_producer_latency_seconds",
        "Time from produce() to Kafka's acknowledgement",
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        registry=registry,
    )
    return registry, latency


def serve(
    address: str,
    port: int,
    registry: CollectorRegistry,
    live: Callable[[], bool],
    ready: Callable[[], bool],
) -> ThreadingHTTPServer:
    """Start the HTTP endpoints in a daemon thread on ``address`` (SENSORPIPE_HTTP_ADDRESS:
    0.0.0.0 in a pod, where the kubelet probes the pod IP; 127.0.0.1 on a shared host);
    port 0 picks a free port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, generate_latest(registry), "text/plain; version=0.0.4")
            elif self.path == "/healthz":
                ok = live()
                self._reply(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
            elif self.path == "/readyz":
                ok = ready()
                self._reply(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._reply(404, b"not found\n")

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Probes every few seconds would drown the log."""

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server
