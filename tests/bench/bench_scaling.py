"""Autoscaler benchmark: reaction time and flapping, ours beside a KEDA-style rule.

1. Reaction time, on a trace measured from the real broker: a real consumer (40 records/s)
   reads a 6-partition topic whose input steps from 20/s to 200/s; ``LagReader`` samples the
   group every 0.5 s. Both scalers are replayed on that one trace at every poll phase: ours
   polls every 10 s (the spec's default), the KEDA rule every 30 s (KEDA's default
   ``pollingInterval``). Reaction = first poll that scales up - the moment the measured lag
   first crossed the lag threshold. The real patch of a Deployment's scale subresource on the
   local API server is timed too and added to ours.
2. Direction changes under a 10-minute oscillating load (simulated: square wave 30/s <-> 180/s
   every 60 s, consumers of 50/s, 6 partitions): KEDA's rule (ceil(lag / threshold), HPA's
   300 s scale-down stabilisation, 30 s poll) against ours with the contract's defaults.

Run: ``python -m tests.bench.bench_scaling`` (needs ``hack/stack.sh up``).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import threading
import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from kubernetes import client, config

from sensorpipe_operator.kafka_clients import admin_client
from sensorpipe_operator.scaling.lag import LagReader
from sensorpipe_operator.scaling.policy import PolicyConfig
from sensorpipe_operator.scaling.window import Snapshot
from tests.bench.results import RESULTS_DIR, record
from tests.integration.scaling.conftest import SlowGroup, create_topic
from tests.unit.scaling.simulator import Group, KedaScaler, OurScaler, reaction, simulate

PARTITIONS = 6
DEFAULTS = PolicyConfig()  # docs/contracts.md §1 defaults: 10 s poll, 120 s down window ...
KEDA_POLL = 30.0
SAMPLE = 0.5
TRACE_FILE = RESULTS_DIR / "scaling_trace.json"


def _produce_steps(bootstrap: str, topic: str, steps: list[tuple[float, float]]) -> None:
    """Produce at ``rate`` records/s for ``seconds`` each, in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    n = 0
    for rate, seconds in steps:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            producer.produce(topic, value=b"{}", partition=n % PARTITIONS)
            n += 1
            producer.poll(0)
            time.sleep(1.0 / rate)
    producer.flush(30)


def record_trace(bootstrap: str) -> list[Snapshot]:
    """The measured trace: snapshots every 0.5 s while the input steps up."""
    name = f"bench-scaling-{secrets.token_hex(3)}"
    topic, group = f"{name}.alerts", f"{name}.notifier"
    create_topic(AdminClient({"bootstrap.servers": bootstrap}), topic, PARTITIONS)
    reader = LagReader(admin_client({"bootstrap.servers": bootstrap}))
    producer = threading.Thread(
        target=_produce_steps, args=(bootstrap, topic, [(20, 25.0), (200, 50.0)]), daemon=True
    )
    trace: list[Snapshot] = []
    with SlowGroup(bootstrap, group, topic, replicas=lambda: 1, rate=40, commit_ms=5000):
        producer.start()
        while producer.is_alive():
            trace.append(reader.snapshot(group, [topic]))
            time.sleep(SAMPLE)
    TRACE_FILE.parent.mkdir(parents=True, exist_ok=True)
    TRACE_FILE.write_text(json.dumps([s.to_dict() for s in trace]))
    return trace


def phases(poll: float) -> list[float]:
    return [i * SAMPLE for i in range(int(poll / SAMPLE))]


def mean_reaction(trace: list[Snapshot], make, poll: float) -> float:
    times = [reaction(trace, make(), poll, p, DEFAULTS.lag_threshold) for p in phases(poll)]
    found = [t for t in times if t is not None]
    assert len(found) == len(times), "a scaler never reacted to the step"
    return statistics.fmean(found)


def patch_latency(kubeconfig: str) -> float:
    """Median wall time of one scale-subresource patch on the real API server."""
    api = config.new_client_from_config(kubeconfig)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = f"bench-scaling-{secrets.token_hex(3)}"
    core.create_namespace({"metadata": {"name": ns}})
    try:
        apps.create_namespaced_deployment(
            ns,
            {
                "metadata": {"name": "c"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "c"}},
                    "template": {
                        "metadata": {"labels": {"app": "c"}},
                        "spec": {"containers": [{"name": "c", "image": "example/c:1"}]},
                    },
                },
            },
        )
        samples = []
        for i in range(10):
            t0 = time.perf_counter()
            apps.patch_namespaced_deployment_scale("c", ns, {"spec": {"replicas": 2 + i % 2}})
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)
    finally:
        core.delete_namespace(ns)


def oscillation() -> tuple[int, int, int, int]:
    """Direction changes and scaling actions of the KEDA rule and ours over 10 minutes."""

    def load(t: float) -> float:
        return 180.0 if (t // 60) % 2 else 30.0

    keda = simulate(
        Group(capacity=50.0), KedaScaler(DEFAULTS.lag_threshold, 6), load, 600, KEDA_POLL
    )
    ours = simulate(Group(capacity=50.0), OurScaler(DEFAULTS), load, 600, DEFAULTS.poll_interval)
    return (
        len(keda.reversals()),
        len(ours.reversals()),
        len(keda.changes()),
        len(ours.changes()),
    )


def main() -> None:
    bootstrap = os.environ["KAFKA_BOOTSTRAP"]
    trace = (
        [Snapshot.from_dict(d) for d in json.loads(TRACE_FILE.read_text())]
        if os.environ.get("SENSORPIPE_BENCH_REUSE_TRACE") and TRACE_FILE.exists()
        else record_trace(bootstrap)
    )
    patch = patch_latency(os.environ["KUBECONFIG"])
    ours = mean_reaction(trace, lambda: OurScaler(DEFAULTS), DEFAULTS.poll_interval) + patch
    keda = mean_reaction(trace, lambda: KedaScaler(DEFAULTS.lag_threshold, 6), KEDA_POLL) + patch
    print(record("scaling_reaction_time_mean", ours, "s", "KEDA rule, 30 s poll", keda, False))
    keda_rev, our_rev, keda_changes, our_changes = oscillation()
    print(
        record(
            "scaling_direction_changes_10min_oscillation",
            our_rev,
            "reversals",
            "KEDA rule (30 s poll, 300 s down window)",
            keda_rev,
            False,
        )
    )
    print(
        record(
            "scaling_actions_10min_oscillation",
            our_changes,
            "actions",
            "KEDA rule (30 s poll, 300 s down window)",
            keda_changes,
            False,
        )
    )
    print(f"trace: {Path(TRACE_FILE)} ({len(trace)} snapshots), patch {patch * 1000:.1f} ms")


if __name__ == "__main__":
    main()
