"""`sensorpipe-local reset` on the real broker: an earlier run's topics, consumer groups and work
directory go, other pipelines' do not, and a second reset finds nothing left."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from sensorpipe_local.runner import create_topics
from sensorpipe_operator import topics
from sensorpipe_operator.manifest import load
from sensorpipe_operator.model.pipeline import Pipeline
from tests.integration.local.conftest import SENSORPIPE_LOCAL, command, write_manifest

pytestmark = pytest.mark.integration


def _pipeline(path: Path, name: str, bootstrap: str) -> Pipeline:
    pipeline = load(write_manifest(path, name))
    return replace(pipeline, kafka=replace(pipeline.kafka, bootstrap_servers=bootstrap))


def _commit(admin: AdminClient, group: str, topic: str) -> None:
    offsets = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 0)])
    admin.alter_consumer_group_offsets([offsets])[group].result(timeout=30)


def test_reset_removes_one_pipelines_topics_groups_and_work_dir(kafka_bootstrap, tmp_path):
    name = f"reset-{secrets.token_hex(3)}"
    pipeline = _pipeline(tmp_path / "pipeline.yaml", name, kafka_bootstrap)
    bystander = _pipeline(tmp_path / "other.yaml", f"{name}x", kafka_bootstrap)
    create_topics(pipeline)
    create_topics(bystander)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    ours = [p.name for p in topics.desired_topics(pipeline)]
    theirs = [p.name for p in topics.desired_topics(bystander)]
    _commit(admin, f"{name}.spark", ours[0])
    _commit(admin, f"{name}x.spark", theirs[0])
    work = tmp_path / "work"
    (work / "checkpoints").mkdir(parents=True)

    args = ("reset", "-f", str(tmp_path / "pipeline.yaml"), "--bootstrap", kafka_bootstrap)
    result = command(SENSORPIPE_LOCAL, *args, "--work-dir", str(work), timeout=120)

    assert result.returncode == 0, result.stderr
    for topic in ours:
        assert f"removed topic {topic}" in result.stdout
    assert f"removed consumer group {name}.spark" in result.stdout
    assert not work.exists()
    left = set(admin.list_topics(timeout=10).topics)
    assert not left & set(ours)
    assert set(theirs) <= left
    groups = {g.group_id for g in admin.list_consumer_groups().result(timeout=30).valid}
    assert f"{name}.spark" not in groups
    assert f"{name}x.spark" in groups

    again = command(SENSORPIPE_LOCAL, *args, "--work-dir", str(work), timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "nothing to remove"
    admin.delete_topics(theirs)


def test_reset_names_the_kafka_it_cannot_reach(tmp_path):
    write_manifest(tmp_path / "pipeline.yaml", "unreachable")
    result = command(
        SENSORPIPE_LOCAL,
        "reset", "-f", str(tmp_path / "pipeline.yaml"), "--bootstrap", "127.0.0.1:9",
        "--work-dir", str(tmp_path / "work"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
