"""The one place a pipeline's status is written, and the gauges that follow its phase.

kopf sends the status patch a handler fills after the handler returns, and the watch event
that shows it comes later still; until then a second reconcile would compute the same status
and write it again. The writer remembers what it wrote per pipeline until the object shows it,
so an unchanged status costs no write and announces no phase twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, cast

import kopf

from sensorpipe_operator import metrics, status


def event(owner: Mapping[str, Any], *, reason: str, message: str, warning: bool = False) -> None:
    """A Kubernetes Event on the pipeline (kopf posts it in the background)."""
    body = kopf.Body(cast(kopf.RawBody, dict(owner)))
    kopf.event(body, type="Warning" if warning else "Normal", reason=reason, message=message)


def _ready_message(new: Mapping[str, Any]) -> str:
    for cond in new.get("conditions", []):
        if cond["type"] == status.READY:
            return str(cond["message"])
    return ""


@dataclass
class StatusWriter:
    """What the operator process wrote to each pipeline's status and has not seen back yet."""

    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> not yet seen
    phases: dict[str, str] = field(default_factory=dict)  # uid -> phase, for the gauges

    def write(
        self, body: Mapping[str, Any], patch_status: MutableMapping[str, Any], new: dict[str, Any]
    ) -> None:
        """Put into ``patch_status`` what of ``new`` the object does not show yet, counting a
        status written but not yet seen as shown; a changed phase becomes an Event."""
        uid = body["metadata"]["uid"]
        self.phases[uid] = new["phase"]
        metrics.pipeline_phase(
            body["metadata"]["namespace"], body["metadata"]["name"], new["phase"]
        )
        current = dict(body.get("status") or {})
        pending = self.written.get(uid)
        if pending:
            current.update(pending)
        written = status.write(patch_status, current, new)
        if written:
            self.written[uid] = {**(pending or {}), **written}
            if "phase" in written:
                event(
                    body,
                    reason=f"Phase{written['phase']}",
                    message=_ready_message(new),
                    warning=written["phase"] in ("Degraded", "Failed"),
                )

    def seen(self, body: Mapping[str, Any]) -> None:
        """Drop the memo of written status once the object shows it."""
        uid = body.get("metadata", {}).get("uid", "")
        pending = self.written.get(uid)
        if pending and all((body.get("status") or {}).get(k) == v for k, v in pending.items()):
            del self.written[uid]

    def forget(self, uid: str) -> None:
        self.written.pop(uid, None)
        self.phases.pop(uid, None)

    def phase_gauges(self) -> None:
        phases = Counter(self.phases.values())
        for phase in status.PHASES:
            metrics.PIPELINES.labels(phase=phase).set(phases.get(phase, 0))
