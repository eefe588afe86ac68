"""Kafka, PostgreSQL and Mosquitto of the local stack are the real thing and keep their data."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import psycopg
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from paho.mqtt.enums import CallbackAPIVersion

pytestmark = pytest.mark.integration


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(timeout=30)


def produce(bootstrap: str, topic: str, n: int, prefix: str = "") -> None:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20}
    )
    errors: list[str] = []

    def on_delivery(err, _msg):
        if err is not None:
            errors.append(str(err))

    for i in range(n):
        while True:
            try:
                producer.produce(
                    topic, key=str(i % 97), value=f"{prefix}{i}", on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    assert errors == []


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 120.0) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"smoke-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(10000, timeout=1.0):
                if msg.error():
                    raise KafkaException(msg.error())
                seen.append(msg.value().decode())
    finally:
        consumer.close()
    return seen


def test_kafka_carries_100k_records_each_exactly_once(kafka_bootstrap, unique_name):
    topic = f"smoke.{unique_name}"
    create_topic(kafka_bootstrap, topic, partitions=3)
    n = 100_000
    produce(kafka_bootstrap, topic, n)
    seen = consume_all(kafka_bootstrap, topic, n)
    assert len(seen) == n
    assert sorted(int(v) for v in seen) == list(range(n))


def test_kafka_keeps_its_data_across_a_restart(kafka_bootstrap, kafka_restart, unique_name):
    topic = f"restart.{unique_name}"
    create_topic(kafka_bootstrap, topic, partitions=2)
    produce(kafka_bootstrap, topic, 1000, prefix="before-")
    kafka_restart(0)
    produce(kafka_bootstrap, topic, 1000, prefix="after-")
    seen = consume_all(kafka_bootstrap, topic, 2000)
    assert sorted(seen) == sorted(
        [f"before-{i}" for i in range(1000)] + [f"after-{i}" for i in range(1000)]
    )


def test_postgresql_answers_queries(pg_dsn, unique_name):
    table = unique_name.replace("-", "_")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (k text PRIMARY KEY, v int)")
        conn.execute(f"INSERT INTO {table} VALUES ('a', 1), ('b', 2)")
        conn.execute(
            f"INSERT INTO {table} VALUES ('a', 5) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
        )
        rows = conn.execute(f"SELECT k, v FROM {table} ORDER BY k").fetchall()
        conn.execute(f"DROP TABLE {table}")
    assert rows == [("a", 5), ("b", 2)]


def test_mqtt_publish_subscribe_round_trip(mqtt_url, unique_name):
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    topic = f"smoke/{unique_name}"
    got: list[bytes] = []
    done = threading.Event()
    subscribed = threading.Event()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{unique_name}")
    sub.on_subscribe = lambda *_a: subscribed.set()

    def on_message(_c, _u, msg):
        got.append(msg.payload)
        if len(got) == 10:
            done.set()

    sub.on_message = on_message
    sub.connect(host, int(port))
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(10), "subscription not acknowledged"
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{unique_name}")
        pub.connect(host, int(port))
        pub.loop_start()
        for i in range(10):
            pub.publish(topic, f"m{i}".encode(), qos=1).wait_for_publish(10)
        pub.loop_stop()
        pub.disconnect()
        assert done.wait(10), f"only {len(got)} of 10 messages arrived"
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert got == [f"m{i}".encode() for i in range(10)]
