"""Real-broker and real-API-server helpers for the autoscaler's integration tests.

``SlowGroup`` is the consumer group under test: real confluent-kafka consumers in one group,
each processing at most ``rate`` records/s, as many of them as the scaled object currently
asks for (it follows the Deployment's replicas or the SparkApplication's executors), so that
scaling changes how fast the real backlog drains.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from urllib3.exceptions import HTTPError

from sensorpipe_contract.identity import API_VERSION, KIND
from sensorpipe_operator import plan
from sensorpipe_operator.builders import autoscaled_fields, desired_children
from sensorpipe_operator.kafka_clients import KafkaClients
from sensorpipe_operator.kube import Kube
from sensorpipe_operator.model.pipeline import Pipeline, parse
from sensorpipe_operator.scaling.controller import ScalingController
from sensorpipe_operator.settings import Images

# What a read of the API server raises while it restarts (other suites restart services).
API_ERRORS = (ApiException, HTTPError)


@pytest.fixture(scope="module")
def api(stack: dict[str, str]) -> client.ApiClient:
    return config.new_client_from_config(stack["KUBECONFIG"])


def make_controller(api: client.ApiClient, request_timeout: float = 5.0) -> ScalingController:
    """A controller as an operator process makes it: one Kube, one set of Kafka clients."""
    kube = Kube(api)
    return ScalingController(kube, KafkaClients(kube), request_timeout)


@pytest.fixture(scope="module")
def admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def create_topic(admin: AdminClient, name: str, partitions: int) -> None:
    futures = admin.create_topics([NewTopic(name, partitions, 1)], request_timeout=30)
    futures[name].result()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(name, timeout=10).topics.get(name)
        if meta is not None and meta.error is None and len(meta.partitions) == partitions:
            return
        time.sleep(0.2)
    raise AssertionError(f"topic {name} did not get its {partitions} partitions")


def produce(bootstrap: str, topic: str, count: int, partitions: int) -> None:
    """``count`` small records spread evenly over the partitions."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(count):
        producer.produce(topic, value=b'{"n":%d}' % i, partition=i % partitions)
        if i % 5000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0, "records left unsent"


def pipeline_spec(
    bootstrap: str, scaling: dict[str, object], target: str = "consumers"
) -> dict[str, object]:
    """A minimal valid spec whose only scaled part is what the test looks at."""
    return {
        "kafka": {
            "bootstrapServers": bootstrap,
            "topicBackend": "admin",
            "topicDefaults": {"partitions": 6, "replicas": 1, "minInSyncReplicas": 1},
        },
        "streams": [
            {"name": "climate", "fields": [{"name": "temperature", "type": "number"}]},
        ],
        "consumers": [{"name": "notifier", "type": "alert-notifier"}],
        "scaling": {"enabled": True, "target": target, **scaling},
    }


def create_pipeline(
    api: client.ApiClient, namespace: str, name: str, spec: dict[str, object]
) -> tuple[dict[str, Any], Pipeline]:
    """The SensorPipeline and the children the operator's first reconcile writes for it
    (accounts, config, SparkApplication, consumer Deployments, each scaled child at the spec's
    minimum), created in the real API server; the reconciler is not running, so this stands
    in for its first pass."""
    body = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    dyn = DynamicClient(api)
    created = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"]).create(
        body=body, namespace=namespace
    )
    pipeline = parse(spec, name, namespace)
    children = desired_children(pipeline, Images())
    first = plan.make(children, {}, "", True, autoscaled_fields(pipeline))
    for child in first.apply:  # with the scale a new child starts at
        resource = dyn.resources.get(api_version=child["apiVersion"], kind=child["kind"])
        resource.create(body=child, namespace=namespace)
    return created.to_dict(), pipeline


class SlowGroup:
    """Consumers of ``topic`` in ``group`` that follow ``replicas()``; each one sleeps so that it
    processes at most ``rate`` records/s and auto-commits every ``commit_ms``."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        replicas: Callable[[], int],
        rate: float,
        commit_ms: int = 1000,
    ) -> None:
        self._conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "auto.commit.interval.ms": commit_ms,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
        self._topic = topic
        self._replicas = replicas
        self._rate = rate
        self._stops: list[threading.Event] = []
        self._threads: list[threading.Thread] = []
        self._done = threading.Event()
        self.max_members = 0
        self.consumed = 0
        self._lock = threading.Lock()
        self._follower = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self) -> SlowGroup:
        self._follower.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._follower.join(15)
        self._resize(0)

    def _follow(self) -> None:
        while not self._done.is_set():
            # While the shared API server restarts, the current members carry on.
            with contextlib.suppress(*API_ERRORS):
                self._resize(max(0, self._replicas()))
            self._done.wait(0.5)

    def _resize(self, n: int) -> None:
        while len(self._threads) < n:
            stop = threading.Event()
            t = threading.Thread(target=self._consume, args=(stop,), daemon=True)
            self._stops.append(stop)
            self._threads.append(t)
            t.start()
        while len(self._threads) > n:
            self._stops.pop().set()
            self._threads.pop().join(15)
        self.max_members = max(self.max_members, n)

    def _consume(self, stop: threading.Event) -> None:
        consumer = Consumer(self._conf)
        consumer.subscribe([self._topic])
        try:
            while not stop.is_set():
                msg = consumer.poll(0.2)
                if msg is None or msg.error():
                    continue
                with self._lock:
                    self.consumed += 1
                time.sleep(1.0 / self._rate)
        finally:
            consumer.close()  # commits what was consumed and leaves the group at once
