"""The local runner's Kafka probes on the real broker: the offsets a group committed (how it
reads Spark's progress) and whether a topic got a record after a moment (how it knows the
aggregates query finished a batch)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from sensorpipe_local.probes import TopicOffsets

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_bootstrap) -> Iterator[str]:
    name = f"probes-{secrets.token_hex(3)}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(name, 2, 1)])[name].result(timeout=30)
    yield name
    admin.delete_topics([name])


@pytest.fixture
def offsets(kafka_bootstrap) -> Iterator[TopicOffsets]:
    probe = TopicOffsets(kafka_bootstrap)
    yield probe
    probe.close()


def _produce(bootstrap: str, topic: str, n: int, partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        producer.produce(topic, value=str(i).encode(), partition=partition)
    assert producer.flush(30) == 0


def test_committed_returns_what_the_group_committed_per_partition(kafka_bootstrap, topic, offsets):
    _produce(kafka_bootstrap, topic, 5)
    group = f"{topic}.spark"
    assert offsets.committed(group) == {}  # no commit yet
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 3)])
    admin.alter_consumer_group_offsets([request])[group].result(timeout=30)
    assert offsets.committed(group) == {topic: {0: 3}}
    assert offsets.watermarks([topic]) == {topic: {0: (0, 5), 1: (0, 0)}}


def test_written_since_goes_by_the_records_timestamps(kafka_bootstrap, topic, offsets):
    before = time.time() - 1
    assert not offsets.written_since(topic, before)  # empty
    _produce(kafka_bootstrap, topic, 1, partition=1)
    assert offsets.written_since(topic, before)
    assert not offsets.written_since(topic, time.time() + 60)
