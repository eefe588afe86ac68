"""The admin topic backend: real topics in the real broker, no KafkaTopic resources."""

from __future__ import annotations

import subprocess
import sys

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from sensorpipe_operator.kube import PIPELINES

from .harness import (
    children,
    condition,
    create_pipeline,
    get_pipeline,
    pipeline,
    wait_condition,
    wait_for,
)

pytestmark = pytest.mark.integration
TIMEOUT = 60


def _topics(admin_client: AdminClient, prefix: str) -> dict[str, int]:
    meta = admin_client.list_topics(timeout=10).topics
    return {name: len(t.partitions) for name, t in meta.items() if name.startswith(prefix)}


def _config(admin_client: AdminClient, topic: str, key: str) -> str:
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin_client.describe_configs([res])[res].result(timeout=10)
    return str(entries[key].value)


def test_admin_backend_creates_grows_and_refuses_to_shrink(
    admin, kube_namespace, kafka_bootstrap, operator, unique_name
):
    name = unique_name[-20:].strip("-").lstrip("0123456789-") or "adm"
    manifest = pipeline(name, kube_namespace, kafka_bootstrap)
    manifest["spec"]["kafka"] = {
        "topicBackend": "admin",
        "bootstrapServers": kafka_bootstrap,
        "topicDefaults": {"partitions": 2, "replicas": 1, "retention": "1d"},
    }
    manifest["spec"]["streams"][0]["partitions"] = 3
    create_pipeline(admin, manifest)
    kafka = AdminClient({"bootstrap.servers": kafka_bootstrap})
    want = {
        f"{name}.climate": 3,
        f"{name}.motion": 2,
        f"{name}.deadletter": 2,
        f"{name}.aggregates": 2,
        f"{name}.alerts": 2,
    }
    wait_for(lambda: _topics(kafka, f"{name}.") == want, TIMEOUT, f"topics {want}", operator)
    assert _config(kafka, f"{name}.climate", "retention.ms") == "86400000"
    assert not [k for k in children(admin, kube_namespace, name) if k[0] == "KafkaTopic"]
    wait_for(
        lambda: (c := condition(get_pipeline(admin, kube_namespace, name), "TopicsReady"))
        and c["status"] == "True",
        TIMEOUT,
        "TopicsReady from the broker",
        operator,
    )

    streams = manifest["spec"]["streams"]
    streams[0]["partitions"] = 5
    admin.merge_patch(
        PIPELINES,
        kube_namespace,
        name,
        {"spec": {"streams": streams, "kafka": {"topicDefaults": {"retention": "2d"}}}},
    )
    wait_for(
        lambda: _topics(kafka, f"{name}.climate")[f"{name}.climate"] == 5,
        TIMEOUT,
        "partitions added",
        operator,
    )
    wait_for(
        lambda: _config(kafka, f"{name}.motion", "retention.ms") == "172800000",
        TIMEOUT,
        "retention altered",
        operator,
    )

    streams[0]["partitions"] = 1
    admin.merge_patch(PIPELINES, kube_namespace, name, {"spec": {"streams": streams}})
    cond = wait_condition(
        admin, kube_namespace, name, "TopicsReady", "PartitionDecreaseRefused", operator
    )
    assert f"topic {name}.climate has 5 partitions; decreasing to 1" in cond["message"]
    body = get_pipeline(admin, kube_namespace, name)
    assert body is not None
    assert body["status"]["phase"] == "Degraded"
    assert _topics(kafka, f"{name}.climate")[f"{name}.climate"] == 5


def test_a_batch_naming_a_topic_twice_does_not_kill_the_process(kafka_bootstrap, unique_name):
    """Issue #18: confluent-kafka's create_topics aborted the operator (exit 139, no log line)
    when two planned topics had one name. The backend now sends each name once and splits a
    refused batch, in a process of its own here so that a crash fails this test alone."""
    topic = f"twice-{unique_name}"
    script = (
        "import sys\n"
        "from sensorpipe_operator import admin_topics\n"
        "from sensorpipe_operator.kafka_clients import admin_client\n"
        "from sensorpipe_operator.topics import DesiredTopic\n"
        f"plan = DesiredTopic('a', {topic!r}, 1, 1, {{'cleanup.policy': 'delete'}})\n"
        "twin = DesiredTopic('b', plan.name, 1, 1, dict(plan.config))\n"
        f"admin = admin_client({{'bootstrap.servers': {kafka_bootstrap!r}}})\n"
        "states = admin_topics.ensure(admin, [plan, twin])\n"
        "print([(s.name, s.ready) for s in states])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([(topic, True), (topic, True)])
    admin_client = AdminClient({"bootstrap.servers": kafka_bootstrap})
    assert _topics(admin_client, topic) == {topic: 1}
