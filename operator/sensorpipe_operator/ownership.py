"""Fields the autoscaler owns on the operator's children, and handing them over to it.

The autoscaler moves a few fields of the children (a consumer Deployment's ``replicas``, the
SparkApplication's executor floor); the operator must never put them back. It does what one
does for a Deployment under a HorizontalPodAutoscaler: its manifests do not declare those
fields. Two things of server-side apply make that more than leaving them out:

- a new child must still start at the spec's minimum, so the operator writes the fields
  where they are missing (creation, a child that has just become scaled), and so owns them;
- server-side apply deletes a field its applier stops declaring unless another field
  manager owns it too. Before the operator next applies without them, the fields it alone
  owns are therefore applied with their live values under the autoscaler's field manager
  (with the live ``resourceVersion`` as a precondition, so a value the autoscaler has just
  changed is never written back); from then on the autoscaler's manager keeps them.

Pure: live objects and fragments in, manifests out. A fragment is a manifest-shaped dict of
the autoscaler's fields only, e.g. ``{"spec": {"replicas": 1}}``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sensorpipe_contract.identity import OPERATOR_MANAGER

Path = tuple[str, ...]
_MISSING = object()


def leaves(fragment: Mapping[str, Any], prefix: Path = ()) -> list[Path]:
    """The paths of the scalar fields in ``fragment``."""
    out: list[Path] = []
    for key, value in fragment.items():
        if isinstance(value, Mapping):
            out += leaves(value, (*prefix, key))
        else:
            out.append((*prefix, key))
    return out


def _value_at(obj: Mapping[str, Any] | None, path: Path) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _put(obj: dict[str, Any], path: Path, value: Any) -> None:
    """Set ``path`` in ``obj``, creating the maps on the way."""
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def owners(live: Mapping[str, Any], path: Path) -> set[str]:
    """The field managers that own ``path`` according to ``metadata.managedFields``."""
    found = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        node: Any = entry.get("fieldsV1") or {}
        for key in path:
            node = node.get(f"f:{key}") if isinstance(node, Mapping) else None
        if node is not None:
            found.add(str(entry.get("manager", "")))
    return found


def with_missing(
    manifest: dict[str, Any], fragment: Mapping[str, Any], live: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``manifest`` plus the fragment's values for the fields ``live`` lacks (all of them
    for a child that does not exist yet): the scale a new child starts at."""
    missing = [path for path in leaves(fragment) if _value_at(live, path) is _MISSING]
    if not missing:
        return manifest
    out = copy.deepcopy(manifest)
    for path in missing:
        _put(out, path, _value_at(fragment, path))
    return out


def handover(
    manifest: Mapping[str, Any], fragment: Mapping[str, Any], live: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The apply, as the autoscaler's field manager, of the fragment's fields that only the
    operator owns on ``live``, with their live values; None when there are none."""
    if live is None:
        return None
    mine = [
        path
        for path in leaves(fragment)
        if _value_at(live, path) is not _MISSING and owners(live, path) == {OPERATOR_MANAGER}
    ]
    if not mine:
        return None
    meta = manifest["metadata"]
    body: dict[str, Any] = {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "resourceVersion": live["metadata"]["resourceVersion"],
        },
    }
    for path in mine:
        _put(body, path, _value_at(live, path))
    return body
