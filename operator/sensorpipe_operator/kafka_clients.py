"""The operator process's Kafka Admin clients: one per broker and credentials Secret, shared by
the ``admin`` topic backend (``admin_topics``) and the autoscaler's lag readers.

A client is held in a slot named by what it connects to and with whose credentials (bootstrap
servers, namespace, Secret name), never by the credentials themselves; the slot keeps a digest
of the connection settings to notice a rotated Secret. A changed digest replaces the slot's
client and releases the old one. confluent-kafka's ``AdminClient`` has no ``close``:
librdkafka destroys the handle, its threads and sockets, when the last reference goes, so
releasing it closes it as soon as a call still running in another thread returns. The number of
clients is therefore bounded by the brokers and Secrets in use, however often Secrets rotate.

The Secret is read through the process's one ``Kube`` on every request, so a rotation is seen at
the next reconcile or poll. Blocking (API call, client construction): call it in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Mapping

from confluent_kafka.admin import AdminClient

from sensorpipe_operator.kube import SECRETS, Kube, KubeError
from sensorpipe_operator.model.kafka import KafkaAuth
from sensorpipe_operator.model.pipeline import Pipeline

log = logging.getLogger(__name__)
# librdkafka reports every failed connection while a broker is down: debug level belongs there.
LIBRDKAFKA_LOG = logging.getLogger("sensorpipe.librdkafka")
SOCKET_TIMEOUT_MS = "10000"
Slot = tuple[str, str, str]  # (bootstrap servers, namespace, credentials Secret name or "")
# Keys the digests, so that a digest (in memory, never logged) cannot be used to guess a password.
_DIGEST_KEY = os.urandom(32)


def admin_client(conf: Mapping[str, str]) -> AdminClient:
    """One Admin client for ``conf``, its librdkafka log going to Python logging."""
    return AdminClient({"socket.timeout.ms": SOCKET_TIMEOUT_MS, **conf, "logger": LIBRDKAFKA_LOG})


def auth_config(auth: KafkaAuth, secret: Mapping[str, str]) -> dict[str, str]:
    """librdkafka settings for the spec's authentication, from the referenced Secret's
    (decoded) data: the protocol the spec sets (as every other component uses it), the CA
    when it is TLS, and PEM text passed inline so no key file is ever written."""
    out = {"security.protocol": auth.security_protocol}
    if auth.tls:
        out["ssl.ca.pem"] = secret["ca.crt"]
    if auth.type == "tls":
        out |= {"ssl.certificate.pem": secret["user.crt"], "ssl.key.pem": secret["user.key"]}
    else:
        out |= {
            "sasl.mechanism": auth.sasl_mechanism,
            "sasl.username": secret["username"],
            "sasl.password": secret["password"],
        }
    return out


def slot(pipeline: Pipeline) -> Slot:
    auth = pipeline.kafka.authentication
    return (pipeline.kafka.bootstrap_servers, pipeline.namespace, auth.secret.name if auth else "")


def digest(conf: Mapping[str, str]) -> str:
    """A keyed digest of connection settings: tells a rotated Secret apart without keeping the
    secret values."""
    text = json.dumps(dict(conf), sort_keys=True).encode()
    return hmac.new(_DIGEST_KEY, text, hashlib.sha256).hexdigest()


def connection(kube: Kube, pipeline: Pipeline) -> dict[str, str]:
    """The pipeline's broker settings, with the credentials of the Secret the spec references
    (KubeError 404 when it is missing, KeyError when it lacks a key the kind needs)."""
    conf = {"bootstrap.servers": pipeline.kafka.bootstrap_servers}
    auth = pipeline.kafka.authentication
    if auth is None:
        return conf
    secret = kube.get(SECRETS, pipeline.namespace, auth.secret.name)
    if secret is None:
        raise KubeError(404, f"Secret {auth.secret.name} (spec.kafka.authentication) not found")
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return {**conf, **auth_config(auth, data)}


class KafkaClients:
    """The Admin clients of one operator process, by slot."""

    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._held: dict[Slot, tuple[str, AdminClient]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._held)

    def admin(self, pipeline: Pipeline) -> AdminClient:
        """The client for the pipeline's broker and current credentials."""
        return self.for_settings(slot(pipeline), connection(self._kube, pipeline))

    def for_settings(self, where: Slot, conf: Mapping[str, str]) -> AdminClient:
        """The slot's client if it was made with ``conf``; otherwise a new one replacing it."""
        wanted = digest(conf)
        with self._lock:
            held = self._held.get(where)
            if held is not None and held[0] == wanted:
                return held[1]
            client = admin_client(conf)
            self._held[where] = (wanted, client)
        if held is not None:
            log.info(
                "Kafka settings for %s (Secret %s/%s) changed: replaced its Admin client",
                where[0],
                where[1],
                where[2] or "-",
            )
        return client
