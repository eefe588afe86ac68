"""The Kafka part of the spec: broker, authentication, topic backend and topic defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorpipe_operator.model.cursor import NAME_PATTERN, Cursor, SecretRef, secret_ref, topic_name
from sensorpipe_operator.model.errors import SpecError

TOPIC_BACKENDS = ("strimzi", "admin")
AUTH_TYPES = ("scram-sha-512", "tls")


@dataclass(frozen=True)
class KafkaAuth:
    type: str
    secret: SecretRef
    tls: bool = False

    @property
    def security_protocol(self) -> str:
        """The Kafka client protocol of this setting, the one every component uses."""
        if self.type == "tls":
            return "SSL"
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    @property
    def sasl_mechanism(self) -> str:
        return "SCRAM-SHA-512" if self.type == "scram-sha-512" else ""


@dataclass(frozen=True)
class TopicDefaults:
    partitions: int = 3
    replicas: int = 1
    retention_seconds: float = 7 * 86400.0
    min_insync_replicas: int = 1
    allow_zero_retention: bool = False


@dataclass(frozen=True)
class KafkaSpec:
    bootstrap_servers: str
    cluster_ref: str = ""
    topic_backend: str = "strimzi"
    authentication: KafkaAuth | None = None
    topic_defaults: TopicDefaults = field(default_factory=TopicDefaults)
    dead_letter_topic: str = ""
    aggregates_topic: str = ""
    alerts_topic: str = ""
    delete_topics_with_pipeline: bool = False


def parse_kafka(cur: Cursor) -> KafkaSpec:
    backend = cur.string("topicBackend", "strimzi", choices=TOPIC_BACKENDS)
    cluster_ref = cur.string("clusterRef", "", pattern=NAME_PATTERN)
    if backend == "strimzi" and not cluster_ref:
        raise SpecError(cur.at("clusterRef"), "is required when topicBackend is strimzi")
    auth = None
    if cur.has("authentication"):
        acur = cur.obj("authentication")
        auth_type = acur.string("type", choices=AUTH_TYPES)
        tls = acur.boolean("tls", auth_type == "tls")
        if auth_type == "tls" and not tls:
            raise SpecError(acur.at("tls"), "mutual TLS (type tls) always uses TLS")
        auth = KafkaAuth(type=auth_type, secret=secret_ref(acur.obj("secretRef")), tls=tls)
    dcur = cur.obj("topicDefaults")
    defaults = TopicDefaults(
        partitions=dcur.integer("partitions", 3, 1, 1000),
        replicas=dcur.integer("replicas", 1, 1, 10),
        retention_seconds=dcur.duration("retention", "7d"),
        min_insync_replicas=dcur.integer("minInSyncReplicas", 1, 1, 10),
        allow_zero_retention=dcur.boolean("allowZeroRetention", False),
    )
    if defaults.min_insync_replicas > defaults.replicas:
        raise SpecError(dcur.at("minInSyncReplicas"), "must not exceed replicas")
    if round(defaults.retention_seconds * 1000) == 0 and not defaults.allow_zero_retention:
        raise SpecError(
            dcur.at("retention"),
            "under 1ms makes topics that keep nothing; set allowZeroRetention if that is meant",
        )
    tcur = cur.obj("topics")
    return KafkaSpec(
        bootstrap_servers=cur.string(
            "bootstrapServers", pattern=r"^[^,\s]+:[0-9]+(,[^,\s]+:[0-9]+)*$"
        ),
        cluster_ref=cluster_ref,
        topic_backend=backend,
        authentication=auth,
        topic_defaults=defaults,
        dead_letter_topic=topic_name(tcur, "deadLetter"),
        aggregates_topic=topic_name(tcur, "aggregates"),
        alerts_topic=topic_name(tcur, "alerts"),
        delete_topics_with_pipeline=cur.boolean("deleteTopicsWithPipeline", False),
    )
