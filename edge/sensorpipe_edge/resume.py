"""Per-device resume points: the highest sequence number that is safe on our side.

"Safe" means acknowledged by Kafka or written to the spool, both of which survive a kill -9
of the gateway. Sources that can regenerate or re-request input (the simulator) restart
from here, so a crash loses nothing; what was sent twice is deduplicated downstream by
(device_id, seq). Delivery reports arrive in order per partition, and one device always
maps to one partition, so the maximum is a correct resume point.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class ResumePoints:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._seq: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
        self._dirty = False

    def get(self, device_id: str) -> int | None:
        return self._seq.get(device_id)

    def acked(self, device_id: str, seq: int) -> None:
        if seq > self._seq.get(device_id, -1):
            self._seq[device_id] = seq
            self._dirty = True

    def save(self) -> None:
        """Write atomically (tmp + rename) if anything changed since the last save."""
        if not self._dirty:
            return
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._seq))
        os.replace(tmp, self._path)
        self._dirty = False
