"""What the job commits for the autoscaler: the end offsets of its Kafka source over the
stream topics, to the group the operator measures Spark by."""

import json
from types import SimpleNamespace

import pytest
from pyspark.sql.streaming.listener import SourceProgress

from sensorpipe_operator import runtime_config
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.targets import targets
from sensorpipe_spark import config, offsets
from tests.unit.operator.specs import full, with_change

pytestmark = pytest.mark.unit
TOPICS = ("farm.climate", "farm.motion")


def _source(description: str, end: object) -> SourceProgress:
    """A source's progress as the listener gets it from the JVM: offsets as JSON text."""
    return SourceProgress(
        description=description,
        startOffset="null",
        endOffset=end if isinstance(end, str) else json.dumps(end),
        latestOffset="null",
        numInputRows=0,
        inputRowsPerSecond=0.0,
        processedRowsPerSecond=0.0,
        metrics={},
    )


def test_end_offsets_of_the_kafka_source_over_the_stream_topics():
    kafka = _source(
        "KafkaV2[Subscribe[farm.climate,farm.motion,other.topic]]",
        {
            "farm.climate": {"0": 120, "1": 98},
            "farm.motion": {"0": 7},
            "other.topic": {"0": 5},  # not a stream topic of this pipeline
        },
    )
    assert offsets.end_offsets([kafka], TOPICS) == {
        ("farm.climate", 0): 120,
        ("farm.climate", 1): 98,
        ("farm.motion", 0): 7,
    }


def test_other_sources_and_offsets_not_yet_known_commit_nothing():
    delta = _source(
        "DeltaSource[file:/data/lake/readings]",
        {"sourceVersion": 1, "reservoirVersion": 3, "index": -1, "isStartingVersion": False},
    )
    # A Delta table path that looks like a topic map must not pass either.
    lookalike = _source("DeltaSource[file:/x]", {"farm.climate": {"0": 1}})
    before_first_batch = _source("KafkaV2[Subscribe[farm.climate]]", "None")
    unresolved = _source("KafkaV2[Subscribe[farm.climate]]", {"farm.climate": {"0": -2}})
    assert offsets.end_offsets([delta, lookalike, before_first_batch, unresolved], TOPICS) == {}


def test_the_committed_group_and_topics_are_what_the_operator_measures():
    spec = with_change(full(), "scaling.target", "spark")
    spec = with_change(spec, "kafka.authentication", None)
    model = parse(spec, "farm", "iot")
    [target] = targets(model)
    cfg = config.from_document(runtime_config.render(model))
    assert offsets.group(cfg) == target.group == "farm.spark"
    assert {s.topic for s in cfg.streams} == set(target.topics)


def _cfg(authentication: object) -> config.JobConfig:
    """The Spark job's config as the operator renders it for ``spec.kafka.authentication``."""
    spec = with_change(full(), "kafka.authentication", authentication)
    return config.from_document(runtime_config.render(parse(spec, "farm", "iot")))


def test_client_config_uses_the_credentials_the_document_names(monkeypatch):
    bootstrap = {"bootstrap.servers": "sensors-kafka-bootstrap:9092"}
    assert offsets.client_config(_cfg(None)) == bootstrap
    monkeypatch.setenv("KAFKA_USERNAME", "u")
    monkeypatch.setenv("KAFKA_PASSWORD", "p")
    scram = _cfg({"type": "scram-sha-512", "secretRef": {"name": "kafka-user"}})
    assert offsets.client_config(scram) == {
        **bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    tls = _cfg({"type": "tls", "secretRef": {"name": "kafka-tls"}})
    assert offsets.client_config(tls) == {
        **bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": "/etc/sensorpipe/kafka-tls/ca.crt",
        "ssl.certificate.location": "/etc/sensorpipe/kafka-tls/user.crt",
        "ssl.key.location": "/etc/sensorpipe/kafka-tls/user.key",
    }


def test_progress_of_a_query_other_than_ingest_commits_nothing():
    """The alerts query reads the same topics; only the ingest query's progress is committed,
    so the group does not swing between the two queries' positions."""
    cfg = _cfg(None)
    committer = offsets.OffsetCommitter(cfg, "farm-ingest")
    kafka = _source("KafkaV2[Subscribe[farm.climate]]", {"farm.climate": {"0": 9}})
    event = SimpleNamespace(progress=SimpleNamespace(name="farm-alerts", sources=[kafka]))
    committer.onQueryProgress(event)  # type: ignore[arg-type]
    assert committer._admin is None  # no client was even made: nothing was sent
