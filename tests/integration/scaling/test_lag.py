"""Offsets read from the real broker: committed, end and earliest, and an unreachable broker."""

from __future__ import annotations

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from sensorpipe_operator.kafka_clients import admin_client
from sensorpipe_operator.scaling.lag import LagReader
from tests.integration.scaling.conftest import create_topic, produce

pytestmark = pytest.mark.integration


def test_snapshot_reads_commits_ends_and_earliest_offsets(admin, kafka_bootstrap, unique_name):
    topic, group = f"{unique_name}.alerts", f"{unique_name}.notifier"
    create_topic(admin, topic, 3)
    produce(kafka_bootstrap, topic, 30, 3)  # 10 records on each partition
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 4)])
    admin.alter_consumer_group_offsets([request])[group].result()
    admin.delete_records([TopicPartition(topic, 2, 3)])[TopicPartition(topic, 2, 3)].result()

    reader = LagReader(admin_client({"bootstrap.servers": kafka_bootstrap}))
    snap = reader.snapshot(group, [topic, f"{unique_name}.not-created"])

    assert snap.reachable
    by_partition = {p.partition: p for p in snap.partitions}
    assert sorted(by_partition) == [0, 1, 2]  # the missing topic is left out, not an error
    assert by_partition[0].committed == 4
    assert by_partition[0].lag == 6
    # No commit: lag counts from the earliest retained offset.
    assert by_partition[1].committed is None
    assert by_partition[1].lag == 10
    assert by_partition[2].start == 3
    assert by_partition[2].lag == 7
    assert snap.total_lag == 23


def test_group_that_never_committed_has_no_commits_at_all(admin, kafka_bootstrap, unique_name):
    topic = f"{unique_name}.alerts"
    create_topic(admin, topic, 2)
    produce(kafka_bootstrap, topic, 8, 2)
    reader = LagReader(admin_client({"bootstrap.servers": kafka_bootstrap}))
    snap = reader.snapshot(f"{unique_name}.nobody", [topic])
    assert all(p.committed is None for p in snap.partitions)
    assert snap.total_lag == 8


def test_unreachable_broker_is_an_error_not_zero_lag(stack):
    # Nothing listens on the discard port: the same failure as a broker that is down.
    reader = LagReader(admin_client({"bootstrap.servers": "127.0.0.1:9"}), timeout=2)
    snap = reader.snapshot("any.group", ["any.topic"])
    assert not snap.reachable
    assert snap.error
    assert snap.partitions == ()
