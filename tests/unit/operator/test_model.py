import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import Pipeline, parse

from .specs import full, minimal, with_change

pytestmark = pytest.mark.unit


def _apply_crd_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting as the API server does it: defaults of absent properties, then
    recursion into objects and array items."""
    if schema.get("type") == "object" and isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _apply_crd_defaults(sub, value[key])
    if schema.get("type") == "array" and isinstance(value, list):
        value = [_apply_crd_defaults(schema["items"], v) for v in value]
    return value


def test_full_example_parses_with_every_value():
    p = parse(full(), "farm", "iot")
    assert isinstance(p, Pipeline)
    assert p.kafka.cluster_ref == "sensors"
    assert p.kafka.authentication is not None
    assert p.kafka.authentication.type == "scram-sha-512"
    assert p.kafka.topic_defaults.retention_seconds == 7 * 86400
    assert [s.name for s in p.streams] == ["climate", "distance", "motion"]
    assert p.streams[0].fields[0].min == -40
    assert p.gateways[0].source.serial is not None
    assert p.gateways[0].source.serial.baud_rate == 115200
    assert p.processing.window == 900.0
    assert p.processing.watermark == 600.0
    assert p.processing.alerts.thresholds[0].above == 70
    assert p.processing.alerts.jump.max_delta["distance"] == 150
    assert p.processing.sinks.postgres is not None
    assert p.processing.sinks.postgres.secret.key == "dsn"
    assert p.consumers[0].name == "notifier"
    assert p.scaling.scale_down_stabilization == 120.0


def test_derived_names_follow_design():
    p = parse(full(), "farm", "iot")
    assert p.stream_topic(p.streams[0]) == "farm.climate"
    assert p.dead_letter_topic == "farm.deadletter"
    assert p.aggregates_topic == "farm.aggregates"
    assert p.alerts_topic == "farm.alerts"
    assert p.checkpoint_path == "/data/checkpoints/iot/farm"
    assert p.consumer_group(p.consumers[0]) == "farm.notifier"
    assert p.stream_partitions(p.streams[0]) == 6


def test_overrides_win_over_derived_names():
    spec = with_change(
        full(), "kafka.topics", {"deadLetter": "dl", "aggregates": "agg", "alerts": "al"}
    )
    spec = with_change(spec, "streams.0.topic", "raw.climate")
    spec = with_change(spec, "streams.0.partitions", 12)
    spec = with_change(spec, "processing.checkpointPath", "s3a://bucket/cp")
    p = parse(spec, "farm", "iot")
    assert (p.dead_letter_topic, p.aggregates_topic, p.alerts_topic) == ("dl", "agg", "al")
    assert p.stream_topic(p.streams[0]) == "raw.climate"
    assert p.stream_partitions(p.streams[0]) == 12
    assert p.checkpoint_path == "s3a://bucket/cp"


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_each_lake_format_of_the_crd_parses_and_reaches_the_spark_job(crd_schema, fmt):
    """Every format the CRD offers is one the model keeps and the Spark job accepts."""
    from sensorpipe_operator import runtime_config as rc
    from sensorpipe_spark import config as spark_config

    lake = crd_schema["properties"]["spec"]["properties"]["processing"]["properties"]["sinks"]
    assert fmt in lake["properties"]["lake"]["properties"]["format"]["enum"]
    p = parse(with_change(full(), "processing.sinks.lake.format", fmt), "farm", "iot")
    assert p.processing.sinks.lake_format == fmt
    assert spark_config.from_document(rc.render(p)).lake_format == fmt


def test_anomaly_fields_reach_the_spark_job():
    from sensorpipe_operator import runtime_config as rc
    from sensorpipe_spark import config as spark_config

    default = parse(full(), "farm", "iot")
    assert default.processing.alerts.anomaly.fields == ()
    assert spark_config.from_document(rc.render(default)).alerts.anomaly_fields == frozenset()
    spec = with_change(full(), "processing.alerts.anomaly.fields", ["temperature", "humidity"])
    p = parse(spec, "farm", "iot")
    assert p.processing.alerts.anomaly.fields == ("temperature", "humidity")
    cfg = spark_config.from_document(rc.render(p))
    assert cfg.alerts.anomaly_fields == {"temperature", "humidity"}


def test_model_defaults_equal_the_crd_defaults(crd_schema):
    """The local runner relies on the model's defaults, the cluster on the CRD's: same result."""
    spec_schema = crd_schema["properties"]["spec"]
    for spec in (minimal(), full()):
        defaulted = _apply_crd_defaults(spec_schema, copy.deepcopy(spec))
        assert parse(defaulted, "farm", "iot") == parse(spec, "farm", "iot")
    gw = with_change(
        minimal(), "gateways", [{"name": "sim", "source": {"type": "simulated", "simulated": {}}}]
    )
    gw = with_change(gw, "consumers", [{"name": "n"}])
    assert parse(_apply_crd_defaults(spec_schema, copy.deepcopy(gw)), "a", "b") == parse(
        gw, "a", "b"
    )
    foreign = {
        "type": "kafka",
        "kafka": {"topic": "iot_topic"},
        "payload": {"stream": "climate", "deviceId": "id"},
    }
    gw = with_change(minimal(), "gateways", [{"name": "k", "source": foreign}])
    defaulted = _apply_crd_defaults(spec_schema, copy.deepcopy(gw))
    assert defaulted["gateways"][0]["source"]["payload"]["timeUnit"] == "ms"
    assert parse(defaulted, "a", "b") == parse(gw, "a", "b")


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        ("kafka.bootstrapServers", None, "spec.kafka.bootstrapServers"),
        ("kafka.bootstrapServers", "no-port", "spec.kafka.bootstrapServers"),
        ("kafka.topicBackend", "zookeeper", "spec.kafka.topicBackend"),
        ("kafka.clusterRef", None, "spec.kafka.clusterRef"),
        (
            "kafka.authentication",
            {"type": "plain", "secretRef": {"name": "x"}},
            "spec.kafka.authentication.type",
        ),
        ("kafka.topicDefaults.partitions", 0, "spec.kafka.topicDefaults.partitions"),
        ("kafka.topicDefaults.retention", "7 days", "spec.kafka.topicDefaults.retention"),
        ("kafka.topicDefaults.minInSyncReplicas", 4, "spec.kafka.topicDefaults.minInSyncReplicas"),
        ("kafka.topics.alerts", "bad topic", "spec.kafka.topics.alerts"),
        ("streams", [], "spec.streams"),
        ("streams.1.name", "climate", "spec.streams[1]"),
        ("streams.0.name", "Climate", "spec.streams[0].name"),
        ("streams.0.fields", [], "spec.streams[0].fields"),
        ("streams.0.fields.1.name", "temperature", "spec.streams[0].fields[1]"),
        ("streams.1.fields.0.min", 500, "spec.streams[1].fields[0].min"),
        ("streams.0.fields.0.type", "text", "spec.streams[0].fields[0].type"),
        ("streams.2.fields.0.max", 1, "spec.streams[2].fields[0].max"),
        ("gateways.0.source.type", "usb", "spec.gateways[0].source.type"),
        ("gateways.0.source.mqtt", {"url": "tcp://m:1883"}, "spec.gateways[0].source.mqtt"),
        ("gateways.0.source.serial.device", "COM3", "spec.gateways[0].source.serial.device"),
        ("gateways.0.source.serial.baudRate", 12345, "spec.gateways[0].source.serial.baudRate"),
        ("gateways.0.replicas", 2, "spec.gateways[0].replicas"),
        ("processing.window", "5s", "spec.processing.window"),
        ("processing.watermark", "25h", "spec.processing.watermark"),
        ("processing.triggerInterval", "0s", "spec.processing.triggerInterval"),
        ("processing.sparkVersion", "4", "spec.processing.sparkVersion"),
        ("processing.driver.memory", "1GB", "spec.processing.driver.memory"),
        (
            "processing.alerts.thresholds.0.stream",
            "wind",
            "spec.processing.alerts.thresholds[0].stream",
        ),
        (
            "processing.alerts.thresholds.0.field",
            "speed",
            "spec.processing.alerts.thresholds[0].field",
        ),
        ("processing.alerts.thresholds.0.above", None, "spec.processing.alerts.thresholds[0]"),
        ("processing.alerts.anomaly.zScore", 0, "spec.processing.alerts.anomaly.zScore"),
        (
            "processing.alerts.anomaly.fields",
            ["temperature", "pressure"],
            "spec.processing.alerts.anomaly.fields[1]",
        ),
        (
            "processing.alerts.anomaly.fields",
            "temperature",
            "spec.processing.alerts.anomaly.fields",
        ),
        ("processing.alerts.stuck.after", "0s", "spec.processing.alerts.stuck.after"),
        ("processing.sinks.lake.format", "csv", "spec.processing.sinks.lake.format"),
        ("processing.sinks.postgres.table", "Bad-Table", "spec.processing.sinks.postgres.table"),
        ("processing.restartPolicy", {"type": "Never"}, "spec.processing.restartPolicy.type"),
        ("consumers.0.type", "printer", "spec.consumers[0].type"),
        ("consumers.0.webhookUrl", "ftp://x", "spec.consumers[0].webhookUrl"),
        ("consumers", [], "spec.scaling.target"),
        ("scaling.minReplicas", 7, "spec.scaling.minReplicas"),
        ("scaling.pollInterval", "0s", "spec.scaling.pollInterval"),
        ("scaling.target", "pods", "spec.scaling.target"),
    ],
)
def test_invalid_specs_name_the_field(path, value, error_path):
    with pytest.raises(SpecError) as info:
        parse(with_change(full(), path, value), "farm", "iot")
    assert info.value.path == error_path
    assert str(info.value).startswith(error_path + ":")


@pytest.mark.parametrize("name", ["Farm", "farm.one", "-farm", "a" * 41, ""])
def test_pipeline_name_must_be_a_short_dns_label(name):
    with pytest.raises(SpecError, match=r"^metadata\.name:"):
        parse(minimal(), name, "iot")


def test_wrong_types_are_named_not_crashed():
    for path, value in [
        ("streams", {"name": "x"}),
        ("kafka", "kafka:9092"),
        ("kafka.topicDefaults.partitions", "3"),
        ("kafka.deleteTopicsWithPipeline", "yes"),
        ("gateways.0.nodeSelector", {"a": 1}),
        ("processing.alerts.jump.maxDelta", {"t": "x"}),
    ]:
        with pytest.raises(SpecError):
            parse(with_change(full(), path, value), "farm", "iot")


def test_sources_each_parse_with_defaults():
    for source, attr in [
        ({"type": "mqtt", "mqtt": {"url": "tcp://mosquitto:1883"}}, "mqtt"),
        ({"type": "simulated"}, "simulated"),
        (
            {
                "type": "simulated",
                "simulated": {"devices": 1000, "interval": "200ms", "faults": {"dropout": 0.1}},
            },
            "simulated",
        ),
    ]:
        p = parse(with_change(full(), "gateways.0.source", source), "farm", "iot")
        assert getattr(p.gateways[0].source, attr) is not None
    mqtt = parse(
        with_change(full(), "gateways.0.source", {"type": "mqtt", "mqtt": {"url": "tcp://m:1883"}}),
        "f",
        "n",
    )
    assert mqtt.gateways[0].source.mqtt is not None
    assert (mqtt.gateways[0].source.mqtt.topic_filter, mqtt.gateways[0].source.mqtt.qos) == (
        "sensors/#",
        1,
    )


@given(st.integers(min_value=-5, max_value=1100))
def test_partitions_accepted_exactly_in_range(partitions):
    spec = with_change(minimal(), "kafka.topicDefaults", {"partitions": partitions})
    if 1 <= partitions <= 1000:
        assert parse(spec, "a", "b").kafka.topic_defaults.partitions == partitions
    else:
        with pytest.raises(SpecError, match="partitions"):
            parse(spec, "a", "b")


@given(st.integers(min_value=0, max_value=20), st.integers(min_value=1, max_value=20))
def test_scaling_bounds_ordered(lo, hi):
    spec = with_change(minimal(), "scaling", {"minReplicas": lo, "maxReplicas": hi})
    if lo <= hi:
        assert parse(spec, "a", "b").scaling.min_replicas == lo
    else:
        with pytest.raises(SpecError, match=r"spec\.scaling\.minReplicas"):
            parse(spec, "a", "b")


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_field_range_ordered(lo, hi):
    spec = with_change(minimal(), "streams.0.fields.0", {"name": "t", "min": lo, "max": hi})
    if lo <= hi:
        field = parse(spec, "a", "b").streams[0].fields[0]
        assert (field.min, field.max) == (lo, hi)
    else:
        with pytest.raises(SpecError, match=r"fields\[0\]\.min"):
            parse(spec, "a", "b")


@given(st.integers(min_value=1, max_value=7200), st.integers(min_value=1, max_value=7200))
def test_window_not_shorter_than_trigger(window, trigger):
    spec = with_change(
        minimal(), "processing", {"window": f"{window}s", "triggerInterval": f"{trigger}s"}
    )
    if window >= trigger:
        assert parse(spec, "a", "b").processing.window == window
    else:
        with pytest.raises(SpecError, match=r"spec\.processing\.window"):
            parse(spec, "a", "b")


SEED_002 = {"stream": "climate", "deviceId": "device_id", "time": "timestamp", "timeUnit": "s"}


def test_a_payload_mapping_parses_with_every_field_resolved():
    source = {"type": "kafka", "kafka": {"topic": "iot_topic"}, "payload": SEED_002}
    p = parse(with_change(full(), "gateways.0.source", source), "farm", "iot")
    src = p.gateways[0].source
    assert src.kafka is not None
    assert src.payload is not None
    assert (src.kafka.topic, src.kafka.start_from) == ("iot_topic", "earliest")
    assert p.source_group(p.gateways[0]) == "farm.gateway.bench"
    assert src.payload.fields == {"temperature": "temperature", "humidity": "humidity"}
    assert (src.payload.time, src.payload.time_unit, src.payload.seq) == ("timestamp", "s", "")
    renamed = SEED_002 | {"fields": {"humidity": "rh"}, "seq": "meta.n"}
    mqtt = {"type": "mqtt", "mqtt": {"url": "tcp://m:1883"}, "payload": renamed}
    src = parse(with_change(full(), "gateways.0.source", mqtt), "farm", "iot").gateways[0].source
    assert src.payload is not None
    assert src.payload.fields == {"temperature": "temperature", "humidity": "rh"}
    assert src.payload.seq == "meta.n"
    own_group = with_change(source, "kafka.group", "legacy-consumers")
    p = parse(with_change(full(), "gateways.0.source", own_group), "farm", "iot")
    assert p.source_group(p.gateways[0]) == "legacy-consumers"


@pytest.mark.parametrize(
    ("source", "error_path"),
    [
        ({"type": "kafka", "kafka": {"topic": "t"}}, "payload"),
        ({"type": "kafka", "payload": SEED_002}, "kafka"),
        ({"type": "simulated", "payload": SEED_002}, "payload"),
        ({"type": "kafka", "kafka": {}, "payload": SEED_002}, "kafka.topic"),
        (
            {"type": "kafka", "kafka": {"topic": "farm.deadletter"}, "payload": SEED_002},
            "kafka.topic",
        ),
        ({"type": "kafka", "kafka": {"topic": "farm.motion"}, "payload": SEED_002}, "kafka.topic"),
        (
            {"type": "kafka", "kafka": {"topic": "t", "startFrom": "0"}, "payload": SEED_002},
            "kafka.startFrom",
        ),
        (
            {"type": "kafka", "kafka": {"topic": "t", "group": "a b"}, "payload": SEED_002},
            "kafka.group",
        ),
        (
            {"type": "kafka", "kafka": {"topic": "t"}, "payload": SEED_002 | {"stream": "wind"}},
            "payload.stream",
        ),
        (
            {"type": "kafka", "kafka": {"topic": "t"}, "payload": SEED_002 | {"deviceId": ""}},
            "payload.deviceId",
        ),
        (
            {"type": "kafka", "kafka": {"topic": "t"}, "payload": SEED_002 | {"deviceId": "a."}},
            "payload.deviceId",
        ),
        (
            {"type": "kafka", "kafka": {"topic": "t"}, "payload": SEED_002 | {"timeUnit": "us"}},
            "payload.timeUnit",
        ),
        (
            {"type": "kafka", "kafka": {"topic": "t"}, "payload": SEED_002 | {"format": "csv"}},
            "payload.format",
        ),
        (
            {
                "type": "kafka",
                "kafka": {"topic": "t"},
                "payload": SEED_002 | {"fields": {"speed": "s"}},
            },
            "payload.fields.speed",
        ),
        (
            {
                "type": "kafka",
                "kafka": {"topic": "t"},
                "payload": SEED_002 | {"fields": {"humidity": ""}},
            },
            "payload.fields.humidity",
        ),
    ],
)
def test_invalid_payload_mappings_name_the_field(source, error_path):
    with pytest.raises(SpecError) as info:
        parse(with_change(full(), "gateways.0.source", source), "farm", "iot")
    assert info.value.path == f"spec.gateways[0].source.{error_path}"
