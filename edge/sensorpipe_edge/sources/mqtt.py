"""MQTT source (paho-mqtt): a persistent QoS 1 session with acknowledgements held back.

The session is persistent (clean_session=False, a stable client id), and each message is
acknowledged (PUBACK) only when its record is safe in Kafka or the spool, so the broker
redelivers whatever a crashed gateway had received but not secured: no loss across a
kill -9, duplicates removed downstream by the reading identity. Redeliveries carry the DUP
flag, which is how the gateway tells them from a device that rebooted (boots.py). Payloads
are protocol lines, or foreign JSON payloads when the source declares a mapping
(``payload.py``).
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sensorpipe_edge.payload import PayloadMapping
from sensorpipe_edge.sources import Emit, Source

log = logging.getLogger(__name__)


def host_port(url: str) -> tuple[str, int]:
    u = urlparse(url if "://" in url else f"tcp://{url}")
    return u.hostname or "localhost", u.port or 1883


class MqttSource(Source):
    # The broker sets DUP on a message it sends again (one not acknowledged before a
    # reconnect); a message queued while the gateway was away comes fresh, once.
    tells_redeliveries = True

    def __init__(
        self,
        url: str,
        topic_filter: str,
        client_id: str,
        qos: int = 1,
        credentials: dict[str, str] | None = None,
        payload: PayloadMapping | None = None,
    ) -> None:
        super().__init__()
        self.payload = payload
        self.url = url
        self.topic_filter = topic_filter
        self.qos = qos
        self.name = f"mqtt:{topic_filter}"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            manual_ack=True,
        )
        if credentials:
            self._client.username_pw_set(
                os.environ[credentials["usernameEnv"]], os.environ[credentials["passwordEnv"]]
            )

    def run(self, emit: Emit) -> None:
        client = self._client

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            log.info("mqtt connected to %s (%s)", self.url, rc)
            # A filter the client refuses raised here and killed paho's network thread while
            # the gateway kept saying ready: stay up, connected but not ready, and say why.
            try:
                result, _mid = c.subscribe(self.topic_filter, qos=self.qos)
            except ValueError as exc:
                log.error("mqtt topic filter %r refused: %s", self.topic_filter, exc)
                result = mqtt.MQTT_ERR_INVAL
            if result != mqtt.MQTT_ERR_SUCCESS:
                log.error("mqtt subscription to %r failed (%s)", self.topic_filter, result)
            self.connected = result == mqtt.MQTT_ERR_SUCCESS

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            log.warning("mqtt disconnected (%s)", rc)
            self.connected = False

        def on_message(c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            ack = partial(c.ack, msg.mid, msg.qos)
            emit([(msg.payload, ack)], f"mqtt:{msg.topic}", redelivered=msg.dup)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.reconnect_delay_set(1, 2)
        host, port = host_port(self.url)
        client.connect_async(host, port, keepalive=30)
        client.loop_start()
        self._stop.wait()
        client.disconnect()
        client.loop_stop()
