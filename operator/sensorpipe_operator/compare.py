"""Decides whether a child needs writing, without asking the API server.

A no-op reconcile must write nothing, so before every server-side apply the desired manifest
is compared with the live object: the live object may hold more (server defaults, other
field managers, status) but every field we set must be there with our value, and the digest
of the last manifest we applied (an annotation) must match, which catches fields we stopped
setting. Quantities are compared by value because the API server canonicalises them
("0.5" becomes "500m").
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sensorpipe_contract.identity import APPLIED_ANNOTATION

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(text: str) -> Decimal | None:
    """The value of a Kubernetes quantity, or None when ``text`` is not one."""
    match = _QUANTITY.match(text)
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        return None


def _scalar_equal(want: Any, have: Any) -> bool:
    if want == have and type(want) is type(have):
        return True
    if isinstance(want, str) and isinstance(have, str):
        a, b = quantity(want), quantity(have)
        return a is not None and a == b
    if isinstance(want, int | float) and isinstance(have, int | float):
        return not isinstance(want, bool) and not isinstance(have, bool) and want == have
    return False


def contains(want: Any, have: Any) -> bool:
    """Whether ``have`` holds everything in ``want``: dicts by key (extra keys allowed), lists
    item by item (same length), scalars by value. An empty dict or list we set matches an
    absent one, since the API server drops empty optional fields."""
    if isinstance(want, dict):
        if have is None:
            return not want
        return isinstance(have, dict) and all(contains(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        if have is None:
            return not want
        return (
            isinstance(have, list)
            and len(want) == len(have)
            and all(contains(w, h) for w, h in zip(want, have, strict=True))
        )
    return _scalar_equal(want, have)


def digest(manifest: dict[str, Any]) -> str:
    """A digest of what we apply; stored on the child so that a removed field is noticed."""
    body = {k: v for k, v in manifest.items() if k != "status"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:20]


def stamp(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with the digest annotation; the digest is taken before stamping."""
    value = digest(manifest)
    meta = manifest.setdefault("metadata", {})
    meta.setdefault("annotations", {})[APPLIED_ANNOTATION] = value
    return manifest


def needs_apply(desired: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """True when ``live`` (None if absent) differs from the stamped ``desired``."""
    if live is None:
        return True
    want = desired.get("metadata", {}).get("annotations", {}).get(APPLIED_ANNOTATION)
    have = (live.get("metadata", {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
    if want != have:
        return True
    return not contains({k: v for k, v in desired.items() if k != "status"}, live)
