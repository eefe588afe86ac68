"""The only module that talks to the Kubernetes API for children: server-side apply, reads,
patches and deletes through the official client's low-level request path
(``param_serialize``, ``call_api``, ``response_deserialize``).

Generic paths (rather than the typed per-kind APIs) keep custom resources (KafkaTopic,
SparkApplication) and built-in kinds on one code path. The client is synchronous; callers
in the event loop run it in a thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from sensorpipe_contract.identity import API_VERSION, KIND, OPERATOR_MANAGER, PLURAL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str, name: str = "") -> str:
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"
        tail = f"/{name}" if name else ""
        return f"{base}/namespaces/{namespace}/{self.plural}{tail}"


# KafkaTopic's version is the cluster's to say (see ``strimzi``); this one is only its default
# name. Kinds in VERSIONLESS are watched in whatever version the cluster prefers.
KAFKA_TOPICS = Kind("kafka.strimzi.io/v1", "KafkaTopic", "kafkatopics")
VERSIONLESS = frozenset({KAFKA_TOPICS.kind})
CHILD_KINDS = (
    Kind("v1", "ServiceAccount", "serviceaccounts"),
    Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    Kind("v1", "ConfigMap", "configmaps"),
    KAFKA_TOPICS,
    Kind("sparkoperator.k8s.io/v1beta2", "SparkApplication", "sparkapplications"),
    Kind("apps/v1", "Deployment", "deployments"),
)
KINDS = {k.kind: k for k in CHILD_KINDS}
PIPELINES = Kind(API_VERSION, KIND, PLURAL)
SECRETS = Kind("v1", "Secret", "secrets")  # read only: Kafka credentials (kafka_clients)
EVENTS = Kind("v1", "Event", "events")  # the autoscaler's; the engine's go through kopf


class KubeError(Exception):
    """A failed API call, with the server's own message (it names the field on a 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _error(exc: ApiException) -> KubeError:
    message = str(exc.reason)
    with contextlib.suppress(TypeError, ValueError):
        message = json.loads(exc.body).get("message", message)
    return KubeError(int(exc.status or 0), message)


class Kube:
    def __init__(self, api: client.ApiClient, on_write: Callable[[str, str], None] | None = None):
        self.api = api
        self.on_write = on_write or (lambda kind, verb: None)

    @classmethod
    def from_environment(cls, on_write: Callable[[str, str], None] | None = None) -> Kube:
        """In a pod, the mounted ServiceAccount; elsewhere $KUBECONFIG, as kubectl does, read
        now rather than when the kubernetes package was imported (its default path is fixed
        then)."""
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        return cls(client.ApiClient(), on_write)

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
    ) -> Any:
        try:
            request = self.api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(*request)
            response.read()
            return self.api.response_deserialize(response, {"2XX": "object"}).data
        except ApiException as exc:
            raise _error(exc) from None

    def apply(
        self, manifest: dict[str, Any], manager: str = OPERATOR_MANAGER, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply as field manager ``sensorpipe``, taking over fields others edited
        by hand (that is the point: the spec is the truth). Another ``manager`` without
        ``force`` hands fields over to it (see ``ownership``)."""
        kind = Kind(manifest["apiVersion"], manifest["kind"], KINDS[manifest["kind"]].plural)
        meta = manifest["metadata"]
        self.on_write(manifest["kind"], "apply")
        result: dict[str, Any] = self._call(
            "PATCH",
            kind.path(meta["namespace"], meta["name"]),
            body=manifest,
            content_type="application/apply-patch+yaml",
            query=[("fieldManager", manager), ("force", "true" if force else "false")],
        )
        return result

    def served_versions(self, group: str) -> list[str]:
        """The versions the API server serves of ``group`` (discovery); empty if none."""
        try:
            result = self._call("GET", f"/apis/{group}")
        except KubeError as exc:
            if exc.status == 404:
                return []
            raise
        return [str(v["version"]) for v in result.get("versions") or []]

    def get(
        self, kind: Kind, namespace: str, name: str, subresource: str = ""
    ) -> dict[str, Any] | None:
        path = kind.path(namespace, name) + (f"/{subresource}" if subresource else "")
        try:
            result: dict[str, Any] = self._call("GET", path)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def list(self, kind: Kind, namespace: str, selector: str) -> list[dict[str, Any]]:
        result = self._call("GET", kind.path(namespace), query=[("labelSelector", selector)])
        items: list[dict[str, Any]] = result.get("items", [])
        return items

    def merge_patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: dict[str, Any],
        subresource: str = "",
        manager: str = "",
    ) -> dict[str, Any]:
        """A JSON merge patch; ``manager`` names the field manager that then owns what it set
        (the autoscaler's scale, see ``ownership``)."""
        self.on_write(kind.kind, "patch")
        path = kind.path(namespace, name) + (f"/{subresource}" if subresource else "")
        result: dict[str, Any] = self._call(
            "PATCH",
            path,
            body=patch,
            content_type="application/merge-patch+json",
            query=[("fieldManager", manager)] if manager else None,
        )
        return result

    def create(self, kind: Kind, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.on_write(kind.kind, "create")
        result: dict[str, Any] = self._call("POST", kind.path(namespace), body=body)
        return result

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        """Delete with background propagation (a Deployment's pods go with it)."""
        self.on_write(kind.kind, "delete")
        self._call(
            "DELETE",
            kind.path(namespace, name),
            body={"propagationPolicy": "Background"},
        )
