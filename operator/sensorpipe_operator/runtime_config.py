"""Renders the runtime config document that gateways, Spark and consumers read; its shape is
``sensorpipe_contract/runtime-config.schema.json`` and its readers ``sensorpipe_contract.runtime``.

Pure: model in, JSON-ready dict out. It never holds a secret's value, only the names of the
environment variables or files where the operator mounts the secret, so ConfigMaps stay safe
to read. Keys are stable and sorted so that an unchanged spec renders byte-identical JSON and
a no-op reconcile has nothing to write.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sensorpipe_contract.identity import TLS_DIR
from sensorpipe_contract.runtime import VERSION
from sensorpipe_operator.model.alerts import Alerts
from sensorpipe_operator.model.cursor import SecretRef
from sensorpipe_operator.model.kafka import KafkaAuth
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.model.processing import Processing, RestartPolicy
from sensorpipe_operator.model.sources import PayloadMapping
from sensorpipe_operator.model.workloads import Gateway

KAFKA_USERNAME_ENV = "KAFKA_USERNAME"
KAFKA_PASSWORD_ENV = "KAFKA_PASSWORD"
MQTT_USERNAME_ENV = "MQTT_USERNAME"
MQTT_PASSWORD_ENV = "MQTT_PASSWORD"
PG_DSN_ENV = "PG_DSN"
WEBHOOK_URL_ENV = "SENSORPIPE_WEBHOOK_URL"


def kafka_authentication(auth: KafkaAuth | None) -> dict[str, str] | None:
    """Where a reader finds the Kafka credentials the operator mounted for it."""
    if auth is None:
        return None
    # Protocol, mechanism and CA are written out, so no reader guesses them (they used to
    # guess three different ways).
    out = {"type": auth.type, "securityProtocol": auth.security_protocol}
    if auth.tls:
        out["caFile"] = f"{TLS_DIR}/ca.crt"
    if auth.type == "tls":
        out |= {"certFile": f"{TLS_DIR}/user.crt", "keyFile": f"{TLS_DIR}/user.key"}
    else:
        out |= {
            "mechanism": auth.sasl_mechanism,
            "usernameEnv": KAFKA_USERNAME_ENV,
            "passwordEnv": KAFKA_PASSWORD_ENV,
        }
    return out


def _source(pipeline: Pipeline, gateway: Gateway) -> dict[str, Any]:
    source = gateway.source
    out: dict[str, Any] = {"type": source.type}
    if source.serial is not None:
        out["serial"] = {"device": source.serial.device, "baudRate": source.serial.baud_rate}
    if source.mqtt is not None:
        mqtt = source.mqtt
        out["mqtt"] = {
            "url": mqtt.url,
            "topicFilter": mqtt.topic_filter,
            "qos": mqtt.qos,
            "credentials": _mqtt_credentials(mqtt.credentials),
        }
    if source.simulated is not None:
        sim = source.simulated
        out["simulated"] = {
            "devices": sim.devices,
            "interval": sim.interval,
            "duration": sim.duration,
            "seed": sim.seed,
            "faults": dict(sim.faults),
        }
    if source.kafka is not None:
        out["kafka"] = {
            "topic": source.kafka.topic,
            "group": pipeline.source_group(gateway),
            "startFrom": source.kafka.start_from,
        }
    if source.payload is not None:
        out["payload"] = _payload(source.payload)
    return out


def _payload(mapping: PayloadMapping) -> dict[str, Any]:
    """The mapping as the gateway reads it (``sensorpipe_edge.payload``): ``fields`` names
    every field of the stream, ``time``/``seq`` empty when the payload has none."""
    return {
        "format": mapping.format,
        "stream": mapping.stream,
        "deviceId": mapping.device_id,
        "fields": dict(mapping.fields),
        "time": mapping.time,
        "timeUnit": mapping.time_unit,
        "seq": mapping.seq,
    }


def _mqtt_credentials(ref: SecretRef | None) -> dict[str, str] | None:
    if ref is None:
        return None
    return {"usernameEnv": MQTT_USERNAME_ENV, "passwordEnv": MQTT_PASSWORD_ENV}


def _alerts(alerts: Alerts) -> dict[str, Any]:
    return {
        "thresholds": [
            {
                "name": t.name,
                "stream": t.stream,
                "field": t.field,
                "above": t.above,
                "below": t.below,
                "severity": t.severity,
            }
            for t in alerts.thresholds
        ],
        "anomaly": {
            "enabled": alerts.anomaly.enabled,
            "zScore": alerts.anomaly.z_score,
            "history": alerts.anomaly.history,
            "minSamples": alerts.anomaly.min_samples,
            "fields": list(alerts.anomaly.fields),
        },
        "jump": {"enabled": alerts.jump.enabled, "maxDelta": dict(alerts.jump.max_delta)},
        "stuck": {"enabled": alerts.stuck.enabled, "after": alerts.stuck.after},
        "silence": {"enabled": alerts.silence.enabled, "after": alerts.silence.after},
    }


def _restart(policy: RestartPolicy) -> dict[str, Any]:
    return {
        "type": policy.type,
        "onFailureRetries": policy.on_failure_retries,
        "onFailureRetryInterval": policy.on_failure_retry_interval,
        "onSubmissionFailureRetries": policy.on_submission_failure_retries,
        "onSubmissionFailureRetryInterval": policy.on_submission_failure_retry_interval,
    }


def _processing(pipeline: Pipeline, proc: Processing) -> dict[str, Any]:
    sinks = proc.sinks
    return {
        "image": proc.image,
        "sparkVersion": proc.spark_version,
        "triggerInterval": proc.trigger_interval,
        "maxOffsetsPerTrigger": proc.max_offsets_per_trigger,
        "window": proc.window,
        "watermark": proc.watermark,
        "driver": {"cores": proc.driver.cores, "memory": proc.driver.memory},
        "executor": {
            "instances": proc.executor.instances,
            "cores": proc.executor.cores,
            "memory": proc.executor.memory,
        },
        "checkpointPath": pipeline.checkpoint_path,
        "restartPolicy": _restart(proc.restart_policy),
        "alerts": _alerts(proc.alerts),
        "sinks": {
            "lake": {"format": sinks.lake_format, "path": sinks.lake_path},
            "postgres": {"dsnEnv": PG_DSN_ENV, "table": sinks.postgres.table}
            if sinks.postgres
            else None,
            "aggregatesTopic": sinks.aggregates_topic,
        },
    }


def render(pipeline: Pipeline, gateway: Gateway | None = None) -> dict[str, Any]:
    """The document for one child: a gateway's includes its ``gateway`` block, Spark's and the
    consumers' do not."""
    doc: dict[str, Any] = {
        "version": VERSION,
        "pipeline": {"name": pipeline.name, "namespace": pipeline.namespace},
        "kafka": {
            "bootstrapServers": pipeline.kafka.bootstrap_servers,
            "authentication": kafka_authentication(pipeline.kafka.authentication),
        },
        "topics": {
            "streams": {s.name: pipeline.stream_topic(s) for s in pipeline.streams},
            "deadLetter": pipeline.dead_letter_topic,
            "aggregates": pipeline.aggregates_topic,
            "alerts": pipeline.alerts_topic,
        },
        "streams": [
            {
                "name": s.name,
                "fields": [
                    {"name": f.name, "type": f.type, "unit": f.unit, "min": f.min, "max": f.max}
                    for f in s.fields
                ],
            }
            for s in pipeline.streams
        ],
        "processing": _processing(pipeline, pipeline.processing),
        "consumers": [
            {
                "name": c.name,
                "type": c.type,
                "group": pipeline.consumer_group(c),
                "topic": pipeline.alerts_topic,
                # The URL itself comes as an environment variable (it may carry a token).
                "webhookEnv": WEBHOOK_URL_ENV if c.webhook_secret else "",
            }
            for c in pipeline.consumers
        ],
    }
    if gateway is not None:
        doc["gateway"] = {"name": gateway.name, "source": _source(pipeline, gateway)}
    return doc


def to_json(doc: dict[str, Any]) -> str:
    """Stable text for a ConfigMap: same document, same bytes."""
    return json.dumps(doc, sort_keys=True, indent=2) + "\n"


def digest(doc: dict[str, Any], without: tuple[str, ...] = ()) -> str:
    """A short digest of the parts of ``doc`` one reader acts on. Pod templates carry it, so a
    change rolls exactly the readers it concerns (a new window restarts Spark, not gateways)."""
    part = {k: v for k, v in doc.items() if k not in without}
    return hashlib.sha256(to_json(part).encode()).hexdigest()[:16]
