"""Kafka connection options for Spark's connector, from the config's authentication block.

The config document never holds a secret (docs/contracts.md §2): SCRAM credentials are
read from the environment variables it names, TLS material from the files the operator
mounts. Reader and writer share these options so that both sides authenticate the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sensorpipe_spark.config import JobConfig


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def auth_options(auth: Mapping[str, Any] | None) -> dict[str, str]:
    """Client properties (prefixed `kafka.`) for the configured authentication, if any."""
    if not auth:
        return {}
    kind = auth.get("type")
    if kind == "scram-sha-512":
        user = os.environ[str(auth.get("usernameEnv", "KAFKA_USERNAME"))]
        password = os.environ[str(auth.get("passwordEnv", "KAFKA_PASSWORD"))]
        opts = {
            "kafka.security.protocol": "SASL_SSL" if auth.get("caFile") else "SASL_PLAINTEXT",
            "kafka.sasl.mechanism": "SCRAM-SHA-512",
            "kafka.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{_quote(user)}" password="{_quote(password)}";'
            ),
        }
        if auth.get("caFile"):
            opts.update(
                {
                    "kafka.ssl.truststore.type": "PEM",
                    "kafka.ssl.truststore.location": str(auth["caFile"]),
                }
            )
        return opts
    if kind == "tls":
        return {
            "kafka.security.protocol": "SSL",
            "kafka.ssl.truststore.type": "PEM",
            "kafka.ssl.truststore.location": str(auth["caFile"]),
            "kafka.ssl.keystore.type": "PEM",
            "kafka.ssl.keystore.certificate.chain": Path(str(auth["certFile"])).read_text(),
            "kafka.ssl.keystore.key": Path(str(auth["keyFile"])).read_text(),
        }
    raise ValueError(f"unknown Kafka authentication type {kind!r}")


# A broker outage is ridden out, not turned into a failed batch and a job restart: the
# connector's consumer and producer wait up to ten minutes for the broker to come back
# (their defaults give up after one and two minutes).
OUTAGE_TOLERANCE_MS = "600000"
CONSUMER_PATIENCE = {"kafka.default.api.timeout.ms": OUTAGE_TOLERANCE_MS}
PRODUCER_PATIENCE = {
    "kafka.max.block.ms": OUTAGE_TOLERANCE_MS,
    "kafka.delivery.timeout.ms": OUTAGE_TOLERANCE_MS,
}


def client_options(cfg: JobConfig) -> dict[str, str]:
    """Bootstrap and authentication options shared by the source and every sink."""
    return {"kafka.bootstrap.servers": cfg.bootstrap_servers, **auth_options(cfg.authentication)}


def source_options(cfg: JobConfig, max_offsets_per_trigger: int | None = None) -> dict[str, str]:
    """Options of the streaming source over every stream topic of the pipeline.

    A topic deleted and recreated must not stop the job, hence `failOnDataLoss=false`: the
    lake's dedup key makes a re-read harmless and a lost offset range is logged by Spark.
    """
    opts = {
        **client_options(cfg),
        **CONSUMER_PATIENCE,
        "subscribe": ",".join(s.topic for s in cfg.streams),
        "startingOffsets": "earliest",
        "failOnDataLoss": "false",
    }
    if max_offsets_per_trigger:
        opts["maxOffsetsPerTrigger"] = str(max_offsets_per_trigger)
    return opts


def write_json(df: DataFrame, cfg: JobConfig, topic: str, key: Column) -> None:
    """Publish every row of ``df`` as one JSON record on ``topic`` keyed by ``key``."""
    (
        df.select(
            key.cast("string").alias("key"),
            F.to_json(F.struct(*df.columns), {"ignoreNullFields": "false"}).alias("value"),
        )
        .write.format("kafka")
        .options(**client_options(cfg), **PRODUCER_PATIENCE)
        .option("topic", topic)
        .save()
    )
