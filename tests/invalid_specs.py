"""Plausible SensorPipeline mistakes (issue #18), each with the field a refusal must name.

Every case is refused somewhere before anything runs: by the API server (the CRD's schema and
CEL rules) or, where CEL cannot say it, by the operator's model as an ``InvalidSpec``
condition; ``sensorpipe validate`` refuses all of them offline. The unit suite checks the
offline path, the integration suite the API server and the running operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.integration.operator.harness import pipeline

Manifest = dict[str, Any]
BOOT = "kafka:9092"


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[Manifest], None]
    # What the refusal must name. Server-side apply names an undeclared field inside a list
    # by the item's key (spec.gateways[name="sim"]...), validate by its index: such cases
    # give the part of the path both share.
    field: str


def base(name: str = "bad", namespace: str = "default") -> Manifest:
    return pipeline(name, namespace, BOOT)


def _spec(manifest: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]
    return spec


def _stream_name(name: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["streams"][1]["name"] = name

    return change


def _topics(**topics: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["kafka"]["topics"] = dict(topics)

    return change


def _stream_topics(*topics: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        for stream, topic in zip(_spec(m)["streams"], topics, strict=False):
            stream["topic"] = topic.replace("{name}", m["metadata"]["name"])

    return change


def _threshold(**rule: Any) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        full = {"name": "rule", "stream": "climate", "field": "temperature", **rule}
        _spec(m)["processing"] = {"alerts": {"thresholds": [full]}}

    return change


def _retention(value: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["kafka"]["topicDefaults"]["retention"] = value

    return change


def _processing(**values: Any) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["processing"] = dict(values)

    return change


def _simulated(**values: Any) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["gateways"][0]["source"]["simulated"].update(values)

    return change


def _mqtt_filter(value: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["gateways"][0]["source"] = {
            "type": "mqtt",
            "mqtt": {"url": "tcp://mosquitto:1883", "topicFilter": value},
        }

    return change


def _serial(device: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["gateways"][0]["source"] = {"type": "serial", "serial": {"device": device}}

    return change


def _serial_resource(resource: str) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        serial = {"device": "/dev/ttyS0", "resource": resource}
        _spec(m)["gateways"][0]["source"] = {"type": "serial", "serial": serial}

    return change


def _both(*changes: Callable[[Manifest], None]) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        for one in changes:
            one(m)

    return change


def _at(path: str, value: Any) -> Callable[[Manifest], None]:
    """Set one (possibly new, possibly misspelt) key at a dotted path with list indexes."""

    def change(m: Manifest) -> None:
        node: Any = m["spec"]
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[parts[-1]] = value

    return change


SIM = "spec.gateways[0].source.simulated"
MQTT = "spec.gateways[0].source.mqtt.topicFilter"
SERIAL = "spec.gateways[0].source.serial.device"
SERIAL_RESOURCE = "spec.gateways[0].source.serial.resource"
THRESHOLDS = "spec.processing.alerts.thresholds"
RETENTION = "spec.kafka.topicDefaults.retention"

CASES = [
    # two topics of one pipeline resolving to one Kafka name
    Case("stream-named-deadletter", _stream_name("deadletter"), "spec.streams"),
    Case("stream-named-alerts", _stream_name("alerts"), "spec.streams"),
    Case("stream-named-aggregates", _stream_name("aggregates"), "spec.streams"),
    Case("two-streams-one-topic", _stream_topics("shared", "shared"), "spec.streams"),
    Case(
        "stream-topic-is-deadletter",
        _both(_topics(deadLetter="dl"), _stream_topics("dl")),
        "spec.streams",
    ),
    Case("deadletter-is-alerts", _topics(deadLetter="x", alerts="x"), "spec.kafka.topics"),
    Case("aggregates-is-alerts", _topics(aggregates="y", alerts="y"), "spec.kafka.topics"),
    Case("topic-is-other-streams-default", _stream_topics("{name}.motion"), "spec.streams"),
    Case("dot-underscore-twins", _stream_topics("{name}_motion"), "spec.streams"),
    Case(
        "alerts-is-a-streams-default",
        lambda m: _topics(alerts=f"{m['metadata']['name']}.climate")(m),
        "spec.streams",
    ),
    Case(
        "deadletter-is-default-alerts",
        lambda m: _topics(deadLetter=f"{m['metadata']['name']}.alerts")(m),
        "spec.kafka.topics",
    ),
    # names Kafka refuses
    Case("topic-dot", _stream_topics("."), "spec.streams[0].topic"),
    Case("topic-dotdot", _stream_topics(".."), "spec.streams[0].topic"),
    Case("deadletter-dotdot", _topics(deadLetter=".."), "spec.kafka.topics.deadLetter"),
    Case("alerts-space", _topics(alerts="my alerts"), "spec.kafka.topics.alerts"),
    Case("topic-too-long", _stream_topics("t" * 250), "spec.streams[0].topic"),
    Case("aggregates-non-ascii", _topics(aggregates="agrégats"), "spec.kafka.topics.aggregates"),
    # thresholds no reading inside the field's range can cross
    Case("above-at-max", _threshold(above=80), THRESHOLDS),
    Case("above-beyond-max", _threshold(above=500), THRESHOLDS),
    Case("below-at-min", _threshold(below=-40), THRESHOLDS),
    Case("below-beyond-min", _threshold(below=-100), THRESHOLDS),
    Case("humidity-above-100", _threshold(field="humidity", above=100.5), THRESHOLDS),
    # a retention that keeps nothing, unasked
    *(
        Case(f"retention-{v}", _retention(v), RETENTION)
        for v in ("0", "0s", "0h0m", "0.0d", "500us", "1ns")
    ),
    # durations written in days
    Case("trigger-1d", _processing(triggerInterval="1d", window="2d"), "triggerInterval"),
    Case(
        "window-under-trigger-in-days", _processing(window="0.5d", triggerInterval="13h"), "window"
    ),
    Case("watermark-2d", _processing(watermark="2d"), "spec.processing.watermark"),
    Case("watermark-1d1s", _processing(watermark="1d1s"), "spec.processing.watermark"),
    Case(
        "stuck-after-0d",
        _processing(alerts={"stuck": {"after": "0d"}}),
        "spec.processing.alerts.stuck.after",
    ),
    Case(
        "silence-after-0d0h",
        _processing(alerts={"silence": {"after": "0d0h"}}),
        "spec.processing.alerts.silence.after",
    ),
    Case("sim-interval-0d", _simulated(interval="0d"), f"{SIM}.interval"),
    Case(
        "poll-interval-0.0d", _at("scaling", {"pollInterval": "0.0d"}), "spec.scaling.pollInterval"
    ),
    # fault names the simulator does not know (the CRD's old description suggested them)
    *(
        Case(f"fault-{v}", _simulated(faults={v: 0.1}), f"simulated.faults.{v}")
        for v in ("drop", "duplicate", "outOfRange")
    ),
    Case("fault-rate-above-1", _simulated(faults={"corrupt": 1.5}), f"{SIM}.faults.corrupt"),
    # MQTT filters a broker refuses
    *(
        Case(f"mqtt-filter-{i}", _mqtt_filter(v), MQTT)
        for i, v in enumerate(("sensors/#/x", "sensors/te#", "sensors/+x/data", ""))
    ),
    # device nodes that are no serial port: the gateway would mount them from the node
    *(
        Case(f"device-{i}", _serial(v), SERIAL)
        for i, v in enumerate(
            ("/dev/../dev/mem", "/dev/mem", "/dev/sda", "/dev/serial/by-id/../../mem")
        )
    ),
    # device plugin resources no kubelet would advertise: no domain, a bad domain or name,
    # or Kubernetes' own domain
    *(
        Case(f"device-resource-{i}", _serial_resource(v), SERIAL_RESOURCE)
        for i, v in enumerate(
            ("serial", "Sensorpipe.dev/serial", "sensorpipe/serial", "sensorpipe.dev/-tty", "")
        )
    ),
    Case("device-resource-k8s", _serial_resource("devices.kubernetes.io/tty"), SERIAL_RESOURCE),
    # misspelt keys the API server refuses (and validate used to accept)
    Case("typo-maximum", _at("streams.0.fields.0.maximum", 80), "maximum"),
    Case("typo-device", _simulated(device=3), "simulated.device"),
    Case("typo-windw", _at("processing", {"windw": "5m"}), "spec.processing.windw"),
    Case("typo-retention-ms", _at("kafka.topicDefaults.retentionMs", 1), "retentionMs"),
    Case("typo-max-replica", _at("scaling", {"maxReplica": 3}), "spec.scaling.maxReplica"),
]


def _source(source: dict[str, Any]) -> Callable[[Manifest], None]:
    def change(m: Manifest) -> None:
        _spec(m)["gateways"][0]["source"] = source

    return change


def _foreign(kafka: dict[str, Any] | None = None, **payload: Any) -> Callable[[Manifest], None]:
    """A kafka source (mqtt when ``kafka`` is None) with a payload mapping, changed."""
    mapping = {"stream": "climate", "deviceId": "device_id", **payload}
    mapping = {k: v for k, v in mapping.items() if v is not None}
    if kafka is None:
        return _source({"type": "mqtt", "mqtt": {"url": "tcp://m:1883"}, "payload": mapping})
    return _source({"type": "kafka", "kafka": {"topic": "iot_topic", **kafka}, "payload": mapping})


SOURCE = "spec.gateways[0].source"
PAYLOAD = f"{SOURCE}.payload"
# foreign payloads by declaration (issue #18, item 3)
CASES += [
    Case(
        "payload-on-serial",
        _both(
            _serial("/dev/ttyUSB0"),
            _at("gateways.0.source.payload", {"stream": "climate", "deviceId": "id"}),
        ),
        PAYLOAD,
    ),
    Case(
        "payload-on-simulated",
        _at("gateways.0.source.payload", {"stream": "climate", "deviceId": "id"}),
        PAYLOAD,
    ),
    Case("kafka-without-payload", _source({"type": "kafka", "kafka": {"topic": "t"}}), PAYLOAD),
    Case(
        "kafka-without-block",
        _source({"type": "kafka", "payload": {"stream": "climate", "deviceId": "id"}}),
        f"{SOURCE}.kafka",
    ),
    Case("kafka-topic-space", _foreign({"topic": "iot topic"}), f"{SOURCE}.kafka.topic"),
    Case("kafka-topic-dotdot", _foreign({"topic": ".."}), f"{SOURCE}.kafka.topic"),
    Case(
        "kafka-topic-is-own-deadletter",
        lambda m: _foreign({"topic": f"{m['metadata']['name']}.deadletter"})(m),
        f"{SOURCE}.kafka.topic",
    ),
    Case(
        "kafka-topic-is-own-stream",
        lambda m: _foreign({"topic": f"{m['metadata']['name']}.climate"})(m),
        f"{SOURCE}.kafka.topic",
    ),
    Case("kafka-start-beginning", _foreign({"startFrom": "beginning"}), "kafka.startFrom"),
    Case("kafka-group-slash", _foreign({"group": "a/b"}), f"{SOURCE}.kafka.group"),
    Case("payload-unknown-stream", _foreign(stream="weather"), "payload.stream"),
    Case("payload-without-stream", _foreign(stream=None), f"{PAYLOAD}.stream"),
    Case("payload-without-device", _foreign(deviceId=None), f"{PAYLOAD}.deviceId"),
    Case("payload-empty-device", _foreign(deviceId=""), f"{PAYLOAD}.deviceId"),
    Case("payload-device-dotdot", _foreign(deviceId="a..b"), f"{PAYLOAD}.deviceId"),
    Case("payload-time-space", _foreign(time="time stamp"), f"{PAYLOAD}.time"),
    Case("payload-time-unit-h", _foreign(time="ts", timeUnit="h"), f"{PAYLOAD}.timeUnit"),
    Case("payload-format-xml", _foreign(format="xml"), f"{PAYLOAD}.format"),
    Case("payload-field-of-other-stream", _foreign(fields={"distance": "d"}), "payload.fields"),
    Case("payload-field-empty-member", _foreign(fields={"humidity": ""}), "payload.fields"),
    Case("payload-typo-device-id", _foreign(deviceID="id"), "payload.deviceID"),
]


def manifest_of(case: Case, name: str = "bad", namespace: str = "default") -> Manifest:
    manifest = base(name, namespace)
    case.change(manifest)
    return manifest


# Tolerations are checked as the API server checks a pod's, at apply rather than as a
# Deployment the operator cannot write.
TOLERATIONS = "spec.gateways[0].tolerations[0]"
CASES += [
    Case(
        "toleration-unknown-operator",
        _at("gateways.0.tolerations", [{"key": "k", "operator": "Matches", "value": "v"}]),
        f"{TOLERATIONS}.operator",
    ),
    Case(
        "toleration-unknown-effect",
        _at("gateways.0.tolerations", [{"key": "k", "value": "v", "effect": "NoRun"}]),
        f"{TOLERATIONS}.effect",
    ),
    Case(
        "toleration-empty-key-equal",
        _at("gateways.0.tolerations", [{"operator": "Equal", "value": "v"}]),
        f"{TOLERATIONS}.operator",
    ),
    Case(
        "toleration-exists-with-value",
        _at("gateways.0.tolerations", [{"key": "k", "operator": "Exists", "value": "v"}]),
        f"{TOLERATIONS}.value",
    ),
    Case(
        "toleration-seconds-without-noexecute",
        _at(
            "gateways.0.tolerations",
            [{"key": "k", "value": "v", "effect": "NoSchedule", "tolerationSeconds": 30}],
        ),
        f"{TOLERATIONS}.tolerationSeconds",
    ),
    Case(
        "consumer-toleration-bad-key",
        _at("consumers.0.tolerations", [{"key": "bad key!", "operator": "Exists"}]),
        "spec.consumers[0].tolerations[0].key",
    ),
]
