"""The Deployments a pipeline runs besides Spark: gateways (with their sources) and consumers,
and where their pods may be placed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorpipe_operator.model.cursor import (
    CHILD_NAME_MAX,
    NAME_PATTERN,
    Cursor,
    SecretRef,
    secret_ref,
    unique,
)
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.sources import Source, parse_source
from sensorpipe_operator.model.streams import Stream

CONSUMER_TYPES = ("alert-notifier",)


@dataclass(frozen=True)
class Placement:
    """Where a component's pods may run: edge nodes with the devices for gateways, tainted
    nodes set aside for the pipeline's own consumers."""

    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Gateway:
    name: str
    source: Source
    replicas: int = 1
    image: str = ""
    placement: Placement = Placement()
    resources: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Consumer:
    name: str
    type: str = "alert-notifier"
    webhook_secret: SecretRef | None = None
    replicas: int = 1
    image: str = ""
    placement: Placement = Placement()


def _resources(cur: Cursor) -> dict[str, dict[str, str]]:
    out = {}
    for section in ("requests", "limits"):
        raw = cur.obj(section).data
        if raw:
            out[section] = {k: str(v) for k, v in raw.items()}
    return out


def parse_gateways(root: Cursor, streams: tuple[Stream, ...]) -> tuple[Gateway, ...]:
    gcurs = root.items("gateways")
    unique(gcurs, "name")
    gateways = []
    for gcur in gcurs:
        source = parse_source(gcur.obj("source"), streams)
        replicas = gcur.integer("replicas", 1, 0, 100)
        if source.type == "serial" and replicas > 1:
            raise SpecError(gcur.at("replicas"), "must be 0 or 1 for a serial source")
        gateways.append(
            Gateway(
                name=gcur.string("name", pattern=NAME_PATTERN, max_len=CHILD_NAME_MAX),
                source=source,
                replicas=replicas,
                image=gcur.string("image", ""),
                placement=_placement(gcur),
                resources=_resources(gcur.obj("resources")),
            )
        )
    return tuple(gateways)


def parse_consumers(root: Cursor) -> tuple[Consumer, ...]:
    ccurs = root.items("consumers")
    unique(ccurs, "name")
    return tuple(_consumer(ccur) for ccur in ccurs)


def _consumer(ccur: Cursor) -> Consumer:
    if ccur.string("webhookUrl", ""):
        raise SpecError(
            ccur.at("webhookUrl"),
            "an inline webhookUrl is refused: a webhook URL carries its credentials; "
            "put it in a Secret and name it in webhookSecretRef",
        )
    secret = None
    if ccur.has("webhookSecretRef"):
        secret = secret_ref(ccur.obj("webhookSecretRef"), default_key="url")
    return Consumer(
        name=ccur.string("name", pattern=NAME_PATTERN, max_len=CHILD_NAME_MAX),
        type=ccur.string("type", "alert-notifier", choices=CONSUMER_TYPES),
        webhook_secret=secret,
        replicas=ccur.integer("replicas", 1, 0, 100),
        image=ccur.string("image", ""),
        placement=_placement(ccur),
    )


def _placement(cur: Cursor) -> Placement:
    tolerations = cur.data.get("tolerations") or []
    if not isinstance(tolerations, list) or not all(isinstance(t, Mapping) for t in tolerations):
        raise SpecError(cur.at("tolerations"), "must be a list of objects")
    return Placement(
        node_selector=cur.str_map("nodeSelector"), tolerations=tuple(map(dict, tolerations))
    )
