import json

import pytest

from sensorpipe_edge.payload import PayloadMapping
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.settings import Images, Settings

from .specs import full, with_change

pytestmark = pytest.mark.unit


def test_document_matches_the_contract():
    p = parse(full(), "farm", "iot")
    doc = rc.render(p, p.gateways[0])
    assert doc["version"] == 1
    assert doc["pipeline"] == {"name": "farm", "namespace": "iot"}
    assert doc["kafka"] == {
        "bootstrapServers": "sensors-kafka-bootstrap:9092",
        "authentication": {
            "type": "scram-sha-512",
            "securityProtocol": "SASL_PLAINTEXT",
            "mechanism": "SCRAM-SHA-512",
            "usernameEnv": "KAFKA_USERNAME",
            "passwordEnv": "KAFKA_PASSWORD",
        },
    }
    assert doc["topics"] == {
        "streams": {
            "climate": "farm.climate",
            "distance": "farm.distance",
            "motion": "farm.motion",
        },
        "deadLetter": "farm.deadletter",
        "aggregates": "farm.aggregates",
        "alerts": "farm.alerts",
    }
    assert doc["streams"][0]["fields"][0] == {
        "name": "temperature",
        "type": "number",
        "unit": "Cel",
        "min": -40,
        "max": 80,
    }
    assert doc["gateway"]["source"] == {
        "type": "serial",
        "serial": {"device": "/dev/ttyUSB0", "baudRate": 115200},
    }
    proc = doc["processing"]
    assert (proc["window"], proc["watermark"], proc["triggerInterval"]) == (900.0, 600.0, 10.0)
    assert proc["alerts"]["anomaly"]["history"] == 3600.0
    assert proc["alerts"]["silence"] == {"enabled": True, "after": 300.0}
    assert proc["sinks"]["postgres"] == {"dsnEnv": "PG_DSN", "table": "sensor_aggregates"}
    assert proc["checkpointPath"] == "/data/checkpoints/iot/farm"
    assert doc["consumers"] == [
        {
            "name": "notifier",
            "type": "alert-notifier",
            "group": "farm.notifier",
            "topic": "farm.alerts",
            "webhookEnv": "",
        }
    ]
    assert "secret" not in json.dumps(doc).lower().replace("secretref", "")


def test_simulated_and_mqtt_sources_in_seconds_and_env_names():
    spec = with_change(
        full(),
        "gateways.0.source",
        {
            "type": "simulated",
            "simulated": {
                "devices": 5,
                "interval": "250ms",
                "duration": "1m",
                "faults": {"dropout": 0.5},
            },
        },
    )
    p = parse(spec, "farm", "iot")
    assert rc.render(p, p.gateways[0])["gateway"]["source"]["simulated"] == {
        "devices": 5,
        "interval": 0.25,
        "duration": 60.0,
        "seed": 1,
        "faults": {"dropout": 0.5},
    }
    spec = with_change(
        full(),
        "gateways.0.source",
        {"type": "mqtt", "mqtt": {"url": "tcp://m:1883", "credentialsSecretRef": {"name": "c"}}},
    )
    p = parse(spec, "farm", "iot")
    mqtt = rc.render(p, p.gateways[0])["gateway"]["source"]["mqtt"]
    assert mqtt["credentials"] == {"usernameEnv": "MQTT_USERNAME", "passwordEnv": "MQTT_PASSWORD"}


def test_json_is_stable_and_digest_ignores_excluded_parts():
    p = parse(full(), "farm", "iot")
    assert rc.to_json(rc.render(p)) == rc.to_json(rc.render(parse(full(), "farm", "iot")))
    q = parse(with_change(full(), "processing.window", "1h"), "farm", "iot")
    assert rc.digest(rc.render(p), without=("processing",)) == rc.digest(
        rc.render(q), without=("processing",)
    )
    assert rc.digest(rc.render(p)) != rc.digest(rc.render(q))


def test_settings_from_env():
    s = Settings.from_env(
        {
            "SENSORPIPE_GATEWAY_IMAGE": "g:1",
            "SENSORPIPE_WATCH_NAMESPACES": "a, b,,",
            "SENSORPIPE_PEERING": "p",
            "SENSORPIPE_METRICS_PORT": "9999",
            "SENSORPIPE_LOG_LEVEL": "debug",
        }
    )
    assert s.images.gateway == "g:1"
    assert s.images.spark == Images().spark
    assert s.watch_namespaces == ("a", "b")
    assert (s.peering, s.metrics_port, s.log_level) == ("p", 9999, "DEBUG")
    with pytest.raises(ValueError, match="SENSORPIPE_LOG_LEVEL"):
        Settings.from_env({"SENSORPIPE_LOG_LEVEL": "LOUD"})


def test_a_payload_mapping_reaches_the_gateway_as_the_edge_reads_it():
    """One meaning in one place: the spec's mapping, resolved by the model, rendered into the
    gateway's document, read by the edge into the same mapping."""
    payload = {"stream": "climate", "deviceId": "meta.id", "fields": {"humidity": "rh"}}
    source = {"type": "kafka", "kafka": {"topic": "iot_topic"}, "payload": payload}
    p = parse(with_change(full(), "gateways.0.source", source), "farm", "iot")
    doc = rc.render(p, p.gateways[0])
    block = doc["gateway"]["source"]
    assert block["kafka"] == {
        "topic": "iot_topic",
        "group": "farm.gateway.bench",
        "startFrom": "earliest",
    }
    assert block["payload"] == {
        "format": "json",
        "stream": "climate",
        "deviceId": "meta.id",
        "fields": {"temperature": "temperature", "humidity": "rh"},
        "time": "",
        "timeUnit": "ms",
        "seq": "",
    }
    mapping = PayloadMapping.from_document(block["payload"])
    assert mapping.device_id == ("meta", "id")
    assert mapping.fields == {"temperature": ("temperature",), "humidity": ("rh",)}
    assert (mapping.time, mapping.seq) == (None, None)
    assert "gateway" not in rc.render(p)  # Spark's and the consumers' documents have none
