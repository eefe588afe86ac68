"""Peering between operator replicas: only the live replica with the highest priority acts.

kopf keeps the peers in a KopfPeering (namespaced) or ClusterKopfPeering (cluster-wide)
object but does not create it, and replicas of one Deployment would all start with the same
priority, which makes kopf pause every one of them. So the operator creates its peering
objects at start and picks a random priority unless one is given.
"""

from __future__ import annotations

import logging
import random

from kubernetes import client

GROUP, VERSION = "kopf.dev", "v1"
log = logging.getLogger(__name__)


def default_priority() -> int:
    """A random priority: distinct between replicas with overwhelming probability."""
    return random.SystemRandom().randint(1, 2**31 - 1)


def ensure_objects(api: client.ApiClient, name: str, namespaces: tuple[str, ...]) -> None:
    """Create the peering object(s) named ``name`` if they do not exist yet."""
    custom = client.CustomObjectsApi(api)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": name}}
    try:
        if namespaces:
            for ns in namespaces:
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, ns, "kopfpeerings", {**body, "kind": "KopfPeering"}
                )
        else:
            custom.create_cluster_custom_object(
                GROUP, VERSION, "clusterkopfpeerings", {**body, "kind": "ClusterKopfPeering"}
            )
    except client.exceptions.ApiException as exc:
        if exc.status != 409:
            raise
        log.debug("peering object %s exists", name)
