"""``sensorpipe-notify``: the alert notifier the operator's consumer Deployments run.

Consumes the topic, as the consumer group, that its entry of the runtime config document's
``consumers`` names (the entry called $SENSORPIPE_CONSUMER_NAME), and delivers each alert to
the consumer's webhook (HTTP POST, JSON body) or, without one, to the log. Offsets are stored
only after an alert was delivered, so a crash redelivers rather than loses (at least once); a
webhook that fails is retried with backoff and the partition does not move on meanwhile.
Replicas share the work through the group, which is what lets the operator scale them with
consumer lag.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from confluent_kafka import Consumer, KafkaError, Message
from prometheus_client import CollectorRegistry, Counter

from sensorpipe_contract import runtime
from sensorpipe_edge.cli import config_argument, stop_on_signals
from sensorpipe_edge.config import DEFAULT_HTTP_ADDRESS, config_path, kafka_client_config
from sensorpipe_edge.metrics import serve

log = logging.getLogger("sensorpipe_edge.notifier")
Deliver = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class NotifierConfig:
    bootstrap: str
    auth: dict[str, Any] | None
    topic: str
    group: str
    webhook_url: str
    http_port: int
    http_address: str


def notifier_config(doc: Mapping[str, Any], env: Mapping[str, str]) -> NotifierConfig:
    """The notifier's settings from its entry in the runtime config document (topic, group,
    where the webhook URL is) and the environment (which entry, local endpoints)."""
    typed = runtime.read(doc)
    entry = typed.consumer(env.get("SENSORPIPE_CONSUMER_NAME", "notifier"))
    return NotifierConfig(
        bootstrap=env.get("KAFKA_BOOTSTRAP") or typed.bootstrap_servers,
        auth=None if typed.authentication is None else dict(typed.authentication),
        topic=entry.topic,
        group=entry.group,
        # No webhook variable: alerts go to the log.
        webhook_url=env.get(entry.webhook_env, "") if entry.webhook_env else "",
        http_port=int(env.get("SENSORPIPE_HTTP_PORT", "8080")),
        http_address=env.get("SENSORPIPE_HTTP_ADDRESS", DEFAULT_HTTP_ADDRESS),
    )


def webhook(url: str, timeout: float = 10.0) -> Deliver:
    def deliver(alert: dict[str, Any]) -> None:
        req = urllib.request.Request(
            url,
            data=json.dumps(alert).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()

    return deliver


def to_log(alert: dict[str, Any]) -> None:
    log.warning(
        "ALERT %s %s %s/%s.%s: %s",
        alert.get("severity"),
        alert.get("kind"),
        alert.get("device_id"),
        alert.get("stream"),
        alert.get("field"),
        alert.get("message"),
    )


class Notifier:
    def __init__(self, cfg: NotifierConfig, deliver: Deliver, registry: CollectorRegistry) -> None:
        self._consumer = Consumer(
            {
                **kafka_client_config(cfg.bootstrap, cfg.auth),
                "group.id": cfg.group,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                # A replica that dies (or is scaled away) hands its partitions over in
                # seconds rather than the default 45 s.
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 2_000,
            }
        )
        self._topic = cfg.topic
        self._deliver = deliver
        self.delivered = Counter(
            "sensorpipe_notifier_delivered", "Alerts delivered", registry=registry
        )
        self.failed = Counter(
            "sensorpipe_notifier_failures", "Failed delivery attempts", registry=registry
        )
        self.heartbeat = time.monotonic()
        self.assigned = False

    def run(self, stop: threading.Event) -> None:
        def on_assign(_c: Consumer, parts: list[Any]) -> None:
            self.assigned = True

        self._consumer.subscribe([self._topic], on_assign=on_assign)
        try:
            while not stop.is_set():
                self.heartbeat = time.monotonic()
                msg = self._consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("kafka: %s", msg.error())
                    continue
                self._handle(msg, stop)
        finally:
            self._consumer.close()

    def _handle(self, msg: Message, stop: threading.Event) -> None:
        try:
            alert = json.loads(msg.value())
        except ValueError:
            log.error(
                "undecodable alert at %s[%d]@%d skipped", msg.topic(), msg.partition(), msg.offset()
            )
            self._consumer.store_offsets(msg)
            return
        backoff = 0.5
        while not stop.is_set():
            try:
                self._deliver(alert)
            except Exception as exc:  # any failure of the target: retry, never drop
                self.failed.inc()
                log.warning("alert delivery failed (%s); retrying in %.1fs", exc, backoff)
                self.heartbeat = time.monotonic()
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.delivered.inc()
            self._consumer.store_offsets(msg)
            return


def main(argv: list[str] | None = None) -> None:
    path = config_path(config_argument(__doc__, argv), os.environ)
    cfg = notifier_config(json.loads(Path(path).read_text()), os.environ)
    registry = CollectorRegistry()
    notifier = Notifier(cfg, webhook(cfg.webhook_url) if cfg.webhook_url else to_log, registry)
    server = serve(
        cfg.http_address,
        cfg.http_port,
        registry,
        live=lambda: time.monotonic() - notifier.heartbeat < 60,
        ready=lambda: notifier.assigned,
    )
    # The webhook URL often carries its token: log where alerts go, never the URL itself.
    target = f"webhook on {urlsplit(cfg.webhook_url).hostname}" if cfg.webhook_url else "log"
    log.info("notifier: %s as group %s -> %s", cfg.topic, cfg.group, target)
    notifier.run(stop_on_signals())
    server.shutdown()
