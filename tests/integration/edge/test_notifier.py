"""``sensorpipe-notify`` against the real broker: alerts reach the webhook, at least once.

The webhook is a real HTTP server in the test. It refuses the first deliveries (the
notifier must retry, not skip), and the notifier is killed with SIGKILL mid-way and
started again: every alert still arrives, because offsets are stored only after delivery.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from tests.integration.edge.helpers import wait_until
from tests.unit.edge.documents import pipeline_document

pytestmark = pytest.mark.integration
NOTIFY_BIN = Path(sys.executable).with_name("sensorpipe-notify")


class Webhook:
    """Collects POSTed alerts; answers 503 to the first ``refuse`` requests."""

    def __init__(self, refuse: int) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.refused = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.refused < refuse:
                    hook.refused += 1
                    self.send_response(503)
                else:
                    hook.alerts.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def alert(i: int, pipeline: str) -> dict[str, Any]:
    return {
        "v": 1, "pipeline": pipeline, "device_id": f"d{i % 7}", "stream": "climate",
        "field": "temperature", "kind": "threshold", "rule": "hot", "severity": "critical",
        "value": 70.0 + i, "threshold": 70.0, "event_time": 1000 + i, "detected_at": 2000 + i,
        "message": f"alert {i}",
    }  # fmt: skip


def test_alerts_reach_the_webhook_through_failures_and_kill_9(
    kafka_bootstrap, unique_name, tmp_path
):
    doc = pipeline_document(unique_name, kafka_bootstrap)
    topic = f"{unique_name}.alerts"
    doc["topics"]["alerts"] = topic
    hook = Webhook(refuse=3)
    doc["consumers"] = [
        {
            "name": "notifier",
            "type": "alert-notifier",
            "group": f"{unique_name}.notifier",
            "topic": topic,
            "webhookEnv": "SENSORPIPE_WEBHOOK_URL",
        }
    ]
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})  # kept alive until done
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(40):
        producer.produce(topic, json.dumps(alert(i, unique_name)).encode(), f"d{i % 7}".encode())
    assert producer.flush(30) == 0

    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps(doc))
    log = tmp_path / "notify.log"
    env = {
        **os.environ,
        "SENSORPIPE_HTTP_PORT": "0",
        "SENSORPIPE_CONSUMER_NAME": "notifier",
        "SENSORPIPE_WEBHOOK_URL": hook.url,  # from the Secret, as the Deployment sets it
    }

    def start() -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                [str(NOTIFY_BIN), "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    proc = start()
    try:
        wait_until("the first deliveries", lambda: len(hook.alerts) >= 5, 90, log)
        proc.kill()
        proc.wait(30)
        proc = start()
        want = {a["message"] for a in (alert(i, unique_name) for i in range(40))}
        wait_until("every alert", lambda: {a["message"] for a in hook.alerts} >= want, 90, log)
    finally:
        proc.terminate()
        proc.wait(30)
        hook.server.shutdown()
    assert hook.refused == 3
    assert f"{unique_name}.notifier" in log.read_text()  # the consumer group of the contract
    assert hook.url not in log.read_text()  # the URL may carry a token: never logged
