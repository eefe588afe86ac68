"""Shared by the edge and firmware integration tests: topics, a gateway process, a reader.

Everything here talks to the real broker of hack/stack.sh. The gateway runs as the real
``sensorpipe-gateway`` entry point in a subprocess, so kill -9 and SIGTERM are the real
thing; its log is attached to a failing test's message.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests import conftest
from tests.unit.edge.documents import pipeline_document

STREAMS = ("climate", "distance", "motion")
GATEWAY_BIN = Path(sys.executable).with_name("sensorpipe-gateway")


def create_pipeline(
    bootstrap: str, name: str, source: dict[str, Any], partitions: int = 3
) -> dict[str, Any]:
    """Create the pipeline's topics (as the operator's admin backend would) and return
    its runtime config document."""
    doc = pipeline_document(name, bootstrap, source)
    topics = [*doc["topics"]["streams"].values(), doc["topics"]["deadLetter"]]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    for f in futures.values():
        f.result(30)
    return doc


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, log: Path | None = None
) -> None:
    """The suites' one wait (tests/conftest.py), failing with the gateway's log tail."""

    def tail() -> str:
        return log.read_text()[-4000:] if log and log.exists() else ""

    conftest.wait_until(what, check, timeout, interval=0.2, tail=tail)


def scrape(port: int) -> dict[str, float]:
    """A gateway's /metrics on ``port`` as {'name{labels}': value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class GatewayProcess:
    """``sensorpipe-gateway`` in a subprocess with its own spool dir and an ephemeral port."""

    def __init__(self, doc: dict[str, Any], workdir: Path, env: dict[str, str] | None = None):
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "pipeline.json"
        self.config.write_text(json.dumps(doc))
        self.log = workdir / "gateway.log"
        self.env = {
            **os.environ,
            "SENSORPIPE_SPOOL_DIR": str(workdir / "spool"),
            "SENSORPIPE_HTTP_PORT": "0",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> GatewayProcess:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(GATEWAY_BIN), "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )

        def port_logged() -> bool:
            m = re.search(r"http port (\d+)", self.log.read_text()[offset:])
            if m:
                self.port = int(m.group(1))
            assert self.proc is not None
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            return m is not None

        wait_until("the gateway to start", port_logged, 60, self.log)
        return self

    def metrics(self) -> dict[str, float]:
        """The gateway's /metrics as {'name{labels}': value}."""
        return scrape(self.port)

    def metric(self, name: str) -> float:
        return self.metrics().get(f"sensorpipe_gateway_{name}", 0.0)

    def stop(self) -> int:
        """SIGTERM: the graceful path, which flushes everything. Returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(30)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def read_topics(
    bootstrap: str,
    topics: Iterable[str],
    until: Callable[[list[dict[str, Any]]], bool] | None = None,
    timeout: float = 90.0,
) -> list[dict[str, Any]]:
    """Records of ``topics`` from the beginning, as dicts with ``_topic`` and ``_key`` added.

    With ``until``, the topics may still be written to (a firmware node streams for as long
    as it runs): ``until`` is asked after every poll, and the records are returned as soon
    as it holds. Waiting for every partition to be at its end at one moment would tie the
    result to how busy the machine is, since a live writer rarely lets that moment come.

    Without ``until``, the result is a complete snapshot: every record up to each
    partition's end offset as it stood when the call began. Only a writer that has stopped
    gives a snapshot that means "everything", so call it that way after stopping it.
    """
    topics = list(topics)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"edge-test-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    records: list[dict[str, Any]] = []
    try:
        meta = consumer.list_topics(timeout=30)
        parts = [TopicPartition(t, p) for t in topics for p in sorted(meta.topics[t].partitions)]
        ends = {
            (tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=30)[1]
            for tp in parts
        }
        behind = {where for where, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in parts])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in consumer.consume(5000, 0.5):
                if msg.error():
                    raise AssertionError(f"consumer error: {msg.error()}")
                rec = json.loads(msg.value())
                rec["_topic"] = msg.topic()
                rec["_key"] = msg.key()
                records.append(rec)
                where = (msg.topic(), msg.partition())
                if msg.offset() + 1 >= ends[where]:
                    behind.discard(where)
            if until(records) if until is not None else not behind:
                return records
    finally:
        consumer.close()
    wanted = "the condition" if until is not None else f"the end of {sorted(behind)}"
    raise AssertionError(
        f"gave up after {timeout:.0f}s waiting for {wanted} on {topics}; saw {describe(records)}"
    )


def describe(records: list[dict[str, Any]], last: int = 5) -> str:
    """What a failing wait saw: counts per topic and device, and the newest records."""
    per_topic = Counter(r["_topic"] for r in records)
    per_device = Counter(str(r.get("device_id")) for r in records)
    newest = [{k: v for k, v in r.items() if k != "_key"} for r in records[-last:]]
    return (
        f"{len(records)} records; per topic {dict(per_topic)}; per device {dict(per_device)}; "
        f"newest {json.dumps(newest, default=str)}"
    )


def seqs_by_device(records: Iterable[dict[str, Any]]) -> dict[str, Counter[int]]:
    """How many times each (device, seq) was seen."""
    out: dict[str, Counter[int]] = {}
    for r in records:
        if "seq" in r:
            out.setdefault(r["device_id"], Counter())[r["seq"]] += 1
    return out
