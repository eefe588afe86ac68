"""The ``strimzi`` topic backend: topics as ``KafkaTopic`` children, in the API version the
cluster serves, found by discovery rather than assumed.

Strimzi 0.48 serves ``kafka.strimzi.io/v1beta2`` only, 0.49 to 0.51 both ``v1`` and
``v1beta2``, and 1.0 onwards ``v1`` only (a ``v1beta2`` request gets HTTP 404 there). The
newest served version is used; the answer is kept until a write is refused with 404 (Strimzi
upgraded or removed), and a missing API is asked for again at most every ``RECHECK_SECONDS``.

The KafkaTopics themselves are children like any other (the engine plans and applies them);
``StrimziTopics`` only reads what Strimzi's topic operator reports on them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_operator import health
from sensorpipe_operator.builders.kafkatopic import resource_name
from sensorpipe_operator.kube import KAFKA_TOPICS, Kind
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.status import Check
from sensorpipe_operator.topics import TopicsReadiness, desired_topics

log = logging.getLogger(__name__)
GROUP = KAFKA_TOPICS.group
VERSIONS = ("v1", "v1beta2")  # preferred first
RECHECK_SECONDS = 30.0


def choose(served: Iterable[str]) -> str | None:
    """The version sensorpipe writes, of those the cluster serves; None when it serves none
    that sensorpipe knows."""
    served = set(served)
    return next((v for v in VERSIONS if v in served), None)


def missing_message(served: Iterable[str]) -> str:
    """The condition message when no usable version is served, naming what is there."""
    served = sorted(served)
    found = f"it serves only {', '.join(served)}" if served else "the group is not served at all"
    return (
        f"the cluster serves no KafkaTopic API sensorpipe can write ({GROUP}/"
        f"{' or '.join(VERSIONS)}; {found}): install Strimzi 0.48 or later with its CRDs, "
        "or set spec.kafka.topicBackend: admin"
    )


@dataclass
class TopicApi:
    """The discovered KafkaTopic kind, shared by the reconciler's threads."""

    served_versions: Callable[[str], list[str]]
    recheck: float = RECHECK_SECONDS
    kind: Kind | None = None
    served: list[str] = field(default_factory=list)
    _checked: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resolve(self) -> Kind | None:
        """The kind to use now (a blocking API call at most every ``recheck`` seconds while
        none is known; none at all once one is)."""
        with self._lock:
            if self.kind is not None or time.monotonic() - self._checked < self.recheck:
                return self.kind
            self._checked = time.monotonic()
            self.served = self.served_versions(GROUP)
            version = choose(self.served)
            self.kind = (
                Kind(f"{GROUP}/{version}", KAFKA_TOPICS.kind, KAFKA_TOPICS.plural)
                if version
                else None
            )
            log.info(
                "KafkaTopic API: served %s, using %s", self.served or "none", version or "none"
            )
            return self.kind

    def forget(self) -> None:
        """A write was refused as not found: ask the cluster again on the next resolve."""
        with self._lock:
            self.kind, self._checked = None, float("-inf")


# The engine's view of one pipeline's live children, by (kind, name), given (namespace, name).
LiveChildren = Callable[[tuple[str, str]], Mapping[tuple[str, str], Mapping[str, Any]]]


class StrimziTopics:
    """The topic backend whose topics are the pipeline's ``KafkaTopic`` children."""

    def __init__(self, api: TopicApi, live: LiveChildren) -> None:
        self._api = api
        self._live = live

    async def readiness(
        self, body: Mapping[str, Any], pipeline: Pipeline, refused: list[str]
    ) -> TopicsReadiness:
        live = self._live((pipeline.namespace, pipeline.name))
        states: dict[str, Check] = {}
        listed = []
        for tp in desired_topics(pipeline):
            verdict = health.strimzi_topic(
                live.get((KAFKA_TOPICS.kind, resource_name(pipeline, tp)))
            )
            states[tp.name] = verdict
            listed.append({"name": tp.name, "partitions": tp.partitions, "ready": verdict.ok})
        unusable = (
            None
            if self._api.kind is not None
            else Check(False, "KafkaTopicAPIMissing", missing_message(self._api.served), True)
        )
        return TopicsReadiness(states, listed, list(refused), unusable)

    async def delete(self, pipeline: Pipeline) -> dict[str, str]:
        """Nothing to do: topics the spec lets go carry the pipeline's owner reference, and the
        garbage collector deletes them with it."""
        return {}

    def forget(self, uid: str) -> None:
        """Nothing is remembered per pipeline: the live children are the engine's."""
