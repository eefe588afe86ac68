"""The serial and MQTT sources against real devices and a real broker.

- Serial: the device (a pty made by ``PtyDevice``) is unplugged while the gateway reads
  and plugged back; the gateway notices, reconnects by itself, and every line the device
  managed to send arrives exactly once (lines "sent" while unplugged never left it).
- MQTT: the gateway is killed with SIGKILL mid-stream; the persistent QoS 1 session keeps
  what was not acknowledged and the broker redelivers it to the restarted gateway, so
  nothing is lost (at-least-once; exactly once per (device, seq) after deduplication), and
  the redeliveries (lower numbers than the gateway had seen) are not taken for reboots.
- MQTT devices that restart their counter (a sketch counting from 0 after each power
  cycle), as protocol lines and as JSON payloads with a counter member, get a new boot
  epoch per reboot, also across a gateway killed with SIGKILL (issue #18).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from sensorpipe_edge.protocol import encode
from sensorpipe_edge.ptydevice import PtyDevice
from sensorpipe_edge.simulation import Fleet
from sensorpipe_edge.sources.mqtt import host_port
from tests.integration.edge.helpers import (
    STREAMS,
    create_pipeline,
    read_topics,
    seqs_by_device,
    wait_until,
)
from tests.seed_payloads import gateway_source

pytestmark = pytest.mark.integration
T0 = int(time.time())  # ticks at interval 1 s: the lines carry plausible device times


def test_serial_device_unplugged_and_back(kafka_bootstrap, unique_name, gateways, tmp_path):
    link = tmp_path / "ttySIM0"
    device = PtyDevice(link)
    source = {"type": "serial", "serial": {"device": str(link), "baudRate": 115200}}
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    fleet = Fleet(3, 1000, seed=9)
    gw = gateways(doc).start()
    sent: set[tuple[str, int]] = set()

    def send(ticks: range) -> None:
        for t in ticks:
            for dev, seq, line in fleet.readings(T0 + t):
                if device.write(line):
                    sent.add((dev, seq))

    def connected() -> bool:
        return bool(gw.metric("source_connected") == 1)

    def all_read() -> bool:
        return bool(gw.metric(f'readings_in_total{{source="serial:{link}"}}') == len(sent))

    wait_until("the gateway to open the port", connected, 30, gw.log)
    send(range(20))
    wait_until("lines read", all_read, 30, gw.log)
    device.unplug()
    wait_until("the gateway to notice the unplug", lambda: not connected(), 30, gw.log)
    send(range(20, 25))  # nobody there: these are lost at the device, as on real hardware
    device.plug()
    wait_until("the gateway to reconnect", connected, 30, gw.log)
    send(range(25, 45))
    wait_until("lines read", all_read, 30, gw.log)
    assert gw.stop() == 0
    device.close()

    records = read_topics(kafka_bootstrap, [doc["topics"]["streams"][s] for s in STREAMS])
    by_device = seqs_by_device(records)
    got = {(d, s) for d, c in by_device.items() for s in c}
    assert got == sent
    assert all(n == 1 for c in by_device.values() for n in c.values())
    assert device.dropped == 5 * 3 * 3  # the unplugged ticks, 3 devices x 3 streams


def publisher(url: str, topic_prefix: str, fleet: Fleet, ticks: range, sent: list[tuple[str, int]]):
    """Publish the fleet's lines at QoS 1, one tick every 20 ms, recording what was sent."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    host, port = host_port(url)
    client.connect(host, port)
    client.loop_start()
    try:
        for t in ticks:
            for dev, seq, line in fleet.readings(T0 + t):
                client.publish(f"{topic_prefix}/{dev}", line.rstrip(), qos=1).wait_for_publish(10)
                sent.append((dev, seq))
            time.sleep(0.02)
    finally:
        client.disconnect()
        client.loop_stop()


def test_mqtt_kill_9_loses_nothing(kafka_bootstrap, mqtt_url, unique_name, gateways):
    source = {
        "type": "mqtt",
        "mqtt": {"url": mqtt_url, "topicFilter": f"{unique_name}/#", "qos": 1},
    }
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    gw = gateways(doc, {"SENSORPIPE_MQTT_CLIENT_ID": f"gw-{unique_name}"}).start()
    wait_until("the MQTT session", lambda: gw.metric("source_connected") == 1, 30, gw.log)
    fleet = Fleet(4, 1000, seed=4)
    sent: list[tuple[str, int]] = []
    pub = threading.Thread(target=publisher, args=(mqtt_url, unique_name, fleet, range(60), sent))
    pub.start()
    wait_until("some published", lambda: gw.metric("published_total") >= 150, 60, gw.log)
    gw.kill9()
    time.sleep(0.5)  # the broker queues for the absent session meanwhile
    gw.start()
    pub.join(120)
    records = read_topics(
        kafka_bootstrap,
        [doc["topics"]["streams"][s] for s in STREAMS],
        until=lambda recs: {(r["device_id"], r["seq"]) for r in recs} >= set(sent),
    )
    assert gw.stop() == 0
    got = {(r["device_id"], r["seq"]) for r in records}
    assert got == set(sent)
    assert len(records) >= len(sent)
    # redelivered lines carry DUP: no device of this fleet rebooted, so no epoch moved
    assert {r.get("boot", 0) for r in records} == {0}


def _counter_line(device: str, seq: int) -> bytes:
    return encode(device, seq, "motion", {"motion": seq % 2 == 0}, epoch_ms=(T0 + seq) * 1000)


def _counter_json(device: str, seq: int) -> bytes:
    doc = {"id": device, "n": seq, "t": T0 + seq, "temperature": 20.5, "humidity": 40.0}
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("payload", "encode_one", "stream"),
    [
        (None, _counter_line, "motion"),
        (
            {"stream": "climate", "deviceId": "id", "seq": "n", "time": "t"},
            _counter_json,
            "climate",
        ),
    ],
    ids=["protocol-lines", "json-with-counter"],
)
def test_an_mqtt_device_restarting_its_counter_keeps_every_reading(
    kafka_bootstrap, mqtt_url, unique_name, gateways, payload, encode_one, stream
):
    """Three boots of one device: 0..19, then 0..14 (five of them sent while the gateway is
    down after a SIGKILL, queued by the broker), then 0..4. Every reading is kept, each
    boot under its own epoch, and only the two reboots are counted."""
    mqtt_block = {"url": mqtt_url, "topicFilter": f"{unique_name}/#", "qos": 1}
    source: dict[str, Any] = {"type": "mqtt", "mqtt": mqtt_block}
    if payload is not None:  # as the operator renders the spec's mapping
        source = gateway_source(unique_name, source | {"payload": payload | {"timeUnit": "s"}})
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    gw = gateways(doc, {"SENSORPIPE_MQTT_CLIENT_ID": f"gw-{unique_name}"}).start()
    wait_until("the MQTT session", lambda: gw.metric("source_connected") == 1, 30, gw.log)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    host, port = host_port(mqtt_url)
    client.connect(host, port)
    client.loop_start()
    reboots = 'device_reboots_total{device="uno"}'

    def send(seqs: range) -> None:
        for seq in seqs:
            msg = client.publish(f"{unique_name}/uno", encode_one("uno", seq).rstrip(), qos=1)
            msg.wait_for_publish(10)

    try:
        send(range(20))
        wait_until("boot 0", lambda: gw.metric("published_total") >= 20, 60, gw.log)
        send(range(10))
        wait_until("the reboot", lambda: gw.metric(reboots) == 1, 60, gw.log)
        saved = Path(gw.env["SENSORPIPE_SPOOL_DIR"]) / "boots.json"
        wait_until("the epoch saved", lambda: json.loads(saved.read_text())["uno"][0] == 1, 10)
        gw.kill9()
        send(range(10, 15))  # the broker queues these for the absent session
        gw.start()
        wait_until("the queued ones", lambda: gw.metric("published_total") >= 5, 60, gw.log)
        send(range(5))
        wait_until("the second reboot", lambda: gw.metric(reboots) == 1, 60, gw.log)
    finally:
        client.disconnect()
        client.loop_stop()
    expected = (
        {(0, s) for s in range(20)} | {(1, s) for s in range(15)} | {(2, s) for s in range(5)}
    )
    records = read_topics(
        kafka_bootstrap,
        [doc["topics"]["streams"][stream]],
        until=lambda recs: {(r.get("boot", 0), r["seq"]) for r in recs} >= expected,
    )
    assert gw.stop() == 0
    assert {(r.get("boot", 0), r["seq"]) for r in records} == expected
    assert {r["device_id"] for r in records} == {"uno"}


def test_readiness_follows_the_source(kafka_bootstrap, unique_name, gateways, tmp_path: Path):
    link = tmp_path / "ttyNONE"
    source = {"type": "serial", "serial": {"device": str(link), "baudRate": 115200}}
    gw = gateways(create_pipeline(kafka_bootstrap, unique_name, source)).start()
    assert _status(gw.port, "/healthz") == 200
    assert _status(gw.port, "/readyz") == 503  # no device yet
    device = PtyDevice(link)
    wait_until(
        "ready once the device appears", lambda: _status(gw.port, "/readyz") == 200, 30, gw.log
    )
    device.close()
    assert gw.stop() == 0


def test_a_refused_mqtt_filter_keeps_the_gateway_up_and_not_ready(
    kafka_bootstrap, mqtt_url, unique_name, gateways
):
    """Issue #18: a filter with # inside killed the MQTT thread while /readyz said 200."""
    source = {"type": "mqtt", "mqtt": {"url": mqtt_url, "topicFilter": f"{unique_name}/#/x"}}
    gw = gateways(create_pipeline(kafka_bootstrap, unique_name, source)).start()
    wait_until("the refusal logged", lambda: "refused" in gw.log.read_text(), 30, gw.log)
    assert _status(gw.port, "/healthz") == 200
    assert _status(gw.port, "/readyz") == 503
    assert gw.metric("source_connected") == 0
    assert gw.stop() == 0


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_http_server_binds_the_configured_address(kafka_bootstrap, unique_name, gateways):
    """Issue #18: the gateway's (and notifier's) HTTP server was bound to 0.0.0.0, hard-coded."""
    source = {"type": "simulated", "simulated": {"devices": 1, "interval": 1.0, "faults": {}}}
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    gw = gateways(doc, {"SENSORPIPE_HTTP_ADDRESS": "127.0.0.2"}).start()
    with urllib.request.urlopen(f"http://127.0.0.2:{gw.port}/healthz", timeout=5) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{gw.port}/healthz", timeout=5)
    assert gw.stop() == 0


def test_an_mqtt_dead_letter_names_the_topic_it_came_on(
    kafka_bootstrap, mqtt_url, unique_name, gateways
):
    """Issue #18: dead letters from MQTT carried the subscription filter, so a bad payload
    could not be traced to its device; they now carry the topic it was published on."""
    source = {"type": "mqtt", "mqtt": {"url": mqtt_url, "topicFilter": f"{unique_name}/#"}}
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    gw = gateways(doc).start()
    wait_until("the MQTT session", lambda: gw.metric("source_connected") == 1, 30, gw.log)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    host, port = host_port(mqtt_url)
    client.connect(host, port)
    client.loop_start()
    client.publish(f"{unique_name}/barn/dev7", b"not a reading", qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    dead = read_topics(kafka_bootstrap, [doc["topics"]["deadLetter"]], until=bool)
    assert [d["source"] for d in dead] == [f"mqtt:{unique_name}/barn/dev7"]
    assert gw.stop() == 0
