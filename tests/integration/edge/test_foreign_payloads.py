"""The seeds' producers feed a pipeline unchanged, through the mapping their gateway declares
(issue #18, item 3), over the real Mosquitto and the real Kafka broker.

Each seed's payloads are sent as its producer sends them (``tests.seed_payloads``), with a
few a real fleet also sends (not JSON, a member missing, a value out of range), and every
one is accounted for: a reading in the stream topic that says what the payload said, or a
dead letter with its reason, the payload itself, and the MQTT topic or the Kafka topic,
partition and offset it came from.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaProducer
from paho.mqtt.enums import CallbackAPIVersion

from sensorpipe_edge.payload import content_seq, kafka_seq
from sensorpipe_edge.sources.mqtt import host_port
from tests.integration.edge.helpers import create_pipeline, read_topics, wait_until
from tests.seed_payloads import SEEDS, device_of, event_time_of, gateway_source

pytestmark = pytest.mark.integration
Produce = Callable[[random.Random, float], dict[str, Any]]


def foreign(rng: random.Random, spec: dict[str, Any], produce: Produce) -> list[bytes]:
    """Payloads of a real fleet beside the producer's: each breaks the mapping differently."""
    message = produce(rng, time.time())
    missing = {k: v for k, v in message.items() if k != "humidity"}
    return [
        b"reboot",
        json.dumps(missing).encode(),
        json.dumps(message | {"temperature": 95.25}).encode(),
        json.dumps(message | {spec["deviceId"]: "no such id!"}).encode(),
    ]


BAD_REASONS = ["not_json", "missing_field", "out_of_range", "bad_device_id"]


def reading_of(spec: dict[str, Any], message: dict[str, Any]) -> tuple[Any, ...]:
    """What a reading of ``message`` must say."""
    return (
        device_of(spec, message),
        event_time_of(spec, message),
        message["temperature"],
        message["humidity"],
    )


def said(record: dict[str, Any]) -> tuple[Any, ...]:
    values = record["values"]
    return (record["device_id"], record["event_time"], values["temperature"], values["humidity"])


def accounted(doc: dict[str, Any], readings: int, dead: int) -> Callable[[list[Any]], bool]:
    stream, dl = doc["topics"]["streams"]["climate"], doc["topics"]["deadLetter"]

    def done(records: list[dict[str, Any]]) -> bool:
        counts = Counter(r["_topic"] for r in records)
        return counts[stream] >= readings and counts[dl] >= dead

    return done


@pytest.mark.parametrize(("seed", "spec", "produce"), SEEDS, ids=[s[0] for s in SEEDS])
def test_mqtt_payloads_of_a_seed_producer_are_all_accounted_for(
    kafka_bootstrap, mqtt_url, unique_name, gateways, seed, spec, produce
):
    mqtt_spec = {"url": mqtt_url, "topicFilter": f"{unique_name}/#", "qos": 1}
    source = gateway_source(unique_name, {"type": "mqtt", "mqtt": mqtt_spec, "payload": spec})
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    gw = gateways(doc).start()
    wait_until("the MQTT session", lambda: gw.metric("source_connected") == 1, 30, gw.log)
    rng = random.Random(seed)
    good = [produce(rng, time.time()) for _ in range(60)]
    bad = foreign(rng, spec, produce)
    sent: list[tuple[str, bytes]] = []  # (topic, payload), in order
    for message in good:
        sent.append(
            (f"{unique_name}/{seed}/{device_of(spec, message)}", json.dumps(message).encode())
        )
    sent += [(f"{unique_name}/{seed}/junk/{i}", payload) for i, payload in enumerate(bad)]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    host, port = host_port(mqtt_url)
    client.connect(host, port)
    client.loop_start()
    for topic, payload in sent:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()

    stream, dl = doc["topics"]["streams"]["climate"], doc["topics"]["deadLetter"]
    records = read_topics(kafka_bootstrap, [stream, dl], until=accounted(doc, len(good), len(bad)))
    assert gw.stop() == 0
    readings = [r for r in records if r["_topic"] == stream]
    dead = [r for r in records if r["_topic"] == dl]
    assert Counter(map(said, readings)) == Counter(reading_of(spec, m) for m in good)
    # timed payloads: numbers from their content, so a redelivery would be the same reading
    assert sorted(r["seq"] for r in readings) == sorted(
        content_seq(p) for _t, p in sent[: len(good)]
    )
    assert sorted((d["source"], d["raw"].encode(), d["reason"]) for d in dead) == sorted(
        (f"mqtt:{topic}", payload, reason)
        for (topic, payload), reason in zip(sent[len(good) :], BAD_REASONS, strict=True)
    )


def foreign_topic(bootstrap: str, topic: str, partitions: int = 3) -> str:
    """Create the producer's own topic, as its set-up script does."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(30)
    return topic


def produce_as_the_seed(
    bootstrap: str, topic: str, seed: str, payloads: list[dict[str, Any] | bytes]
) -> list[tuple[int, int]]:
    """Send as seed 002's producer does (kafka-python, ``json.dumps``, no key); ``bytes``
    go as they are. Returns each record's (partition, offset)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        value_serializer=lambda v: v if isinstance(v, bytes) else json.dumps(v).encode("utf-8"),
    )
    futures = [producer.send(topic, p) for p in payloads]
    producer.flush(30)
    producer.close()
    return [(m.partition, m.offset) for m in (f.get(30) for f in futures)]


def kafka_source(name: str, topic: str, spec: dict[str, Any]) -> dict[str, Any]:
    return gateway_source(name, {"type": "kafka", "kafka": {"topic": topic}, "payload": spec})


@pytest.mark.parametrize(("seed", "spec", "produce"), SEEDS, ids=[s[0] for s in SEEDS])
def test_kafka_records_of_a_seed_producer_are_all_accounted_for(
    kafka_bootstrap, unique_name, gateways, seed, spec, produce
):
    topic = foreign_topic(kafka_bootstrap, f"{unique_name}-iot_topic")
    doc = create_pipeline(kafka_bootstrap, unique_name, kafka_source(unique_name, topic, spec))
    rng = random.Random(seed)
    good = [produce(rng, time.time()) for _ in range(90)]
    bad = foreign(rng, spec, produce)
    coords = produce_as_the_seed(kafka_bootstrap, topic, seed, [*good, *bad])
    gw = gateways(doc).start()  # the records were there first: the group starts at the earliest

    stream, dl = doc["topics"]["streams"]["climate"], doc["topics"]["deadLetter"]
    records = read_topics(kafka_bootstrap, [stream, dl], until=accounted(doc, len(good), len(bad)))
    assert gw.stop() == 0
    readings = {r["seq"]: r for r in records if r["_topic"] == stream}
    expected = {kafka_seq(p, o): m for (p, o), m in zip(coords, good, strict=False)}
    assert readings.keys() == expected.keys()  # each record once, its coordinates its seq
    assert all(said(readings[s]) == reading_of(spec, m) for s, m in expected.items())
    dead = [r for r in records if r["_topic"] == dl]
    assert sorted((d["source"], d["reason"], d["raw"].encode()) for d in dead) == sorted(
        (f"kafka:{topic}/{p}@{o}", reason, payload)
        for (p, o), reason, payload in zip(coords[len(good) :], BAD_REASONS, bad, strict=True)
    )
    assert committed(kafka_bootstrap, unique_name, topic) == ends(kafka_bootstrap, topic)


def committed(bootstrap: str, pipeline: str, topic: str) -> dict[int, int]:
    """The gateway group's committed offsets of ``topic``, by partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{pipeline}.gateway.bench"})
    try:
        parts = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        got = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=30)
        return {tp.partition: tp.offset for tp in got}
    finally:
        consumer.close()


def ends(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ends"})
    try:
        parts = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in parts
        }
    finally:
        consumer.close()


def test_a_kafka_source_killed_mid_stream_loses_nothing_and_repeats_only_identities(
    kafka_bootstrap, unique_name, gateways
):
    """kill -9 while records are in flight: the restarted gateway reads again from the last
    committed offsets; what it reads twice has the same (device, seq), so it is a duplicate
    the lake removes, and nothing is missing."""
    _, spec, produce = SEEDS[0]
    topic = foreign_topic(kafka_bootstrap, f"{unique_name}-iot_topic")
    doc = create_pipeline(kafka_bootstrap, unique_name, kafka_source(unique_name, topic, spec))
    rng = random.Random(7)
    good = [produce(rng, time.time()) for _ in range(20_000)]
    coords = produce_as_the_seed(kafka_bootstrap, topic, "seed-002", list(good))
    gw = gateways(doc).start()
    wait_until("some published", lambda: gw.metric("published_total") >= 2000, 60, gw.log)
    gw.kill9()
    gw.start()
    # The dead member's partitions come back after its session times out; then the new
    # process reads from the last committed offsets up to the end and commits.
    end = ends(kafka_bootstrap, topic)
    wait_until(
        "the restarted gateway to commit the end of every partition",
        lambda: committed(kafka_bootstrap, unique_name, topic) == end,
        120,
        gw.log,
    )
    stream = doc["topics"]["streams"]["climate"]
    expected = {kafka_seq(p, o): m for (p, o), m in zip(coords, good, strict=True)}

    def all_there(records: list[dict[str, Any]]) -> bool:
        return {r["seq"] for r in records} >= expected.keys()

    records = read_topics(kafka_bootstrap, [stream], until=all_there, timeout=120)
    assert gw.stop() == 0
    assert {r["seq"] for r in records} == expected.keys()
    assert all(said(r) == reading_of(spec, expected[r["seq"]]) for r in records)


def test_a_kafka_source_waits_for_its_topic_not_ready_and_says_why(
    kafka_bootstrap, unique_name, gateways
):
    """A producer's topic that does not exist yet: the gateway stays up, not ready, and logs
    it; once the producer has written, its records flow and the gateway is ready."""
    _, spec, produce = SEEDS[0]
    topic = f"{unique_name}-later"
    doc = create_pipeline(kafka_bootstrap, unique_name, kafka_source(unique_name, topic, spec))
    gw = gateways(doc).start()
    wait_until("the missing topic logged", lambda: "does not exist" in gw.log.read_text(), 30)
    assert gw.metric("source_connected") == 0
    foreign_topic(kafka_bootstrap, topic, 1)
    produce_as_the_seed(
        kafka_bootstrap, topic, "seed-002", [produce(random.Random(1), time.time())]
    )
    wait_until("ready once records come", lambda: gw.metric("source_connected") == 1, 60, gw.log)
    stream = doc["topics"]["streams"]["climate"]
    assert len(read_topics(kafka_bootstrap, [stream], until=bool)) == 1
    assert gw.stop() == 0
