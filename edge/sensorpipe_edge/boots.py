"""Boot epochs: the part of a reading's identity that survives a device restarting its counter.

A reading is identified by (stream, device_id, boot, seq). A hobby sketch counts ``seq`` from
0 again after every power cycle, so without ``boot`` its post-reboot readings would carry the
identities of readings the lake already holds, and deduplication would drop them. The
gateway therefore numbers a device's boots itself: ``boot`` starts at 0 and goes up by one
whenever the device's sequence number goes backwards.

This is only sound for a source that cannot present a line a second time (a serial port:
``Source.acks`` is False). There, a counter that goes backwards is the device's own doing;
a source that replays input (an MQTT broker redelivering, the simulator regenerating after a
restart) also sends lower numbers again, which must stay duplicates. Only lines whose
checksum holds count, because a bit flipped in ``seq`` must not look like a reboot; lines
rejected for their values (``sensor_error``, ``out_of_range``) still count, since the device
spent a sequence number on them.

The epochs and the highest number seen per device are saved beside the resume points on the
spool volume, so a gateway killed with SIGKILL restarts with the same epochs (a line it
reads again after the restart keeps its identity) and still notices a device that rebooted
while it was down. A save may miss the last ``maintain_every`` seconds: the restarted
gateway then sees a number below the one it last handled only if the device rebooted, which
it counts again as the same reboot (the epoch on disk is the one before it).
"""

from __future__ import annotations

import binascii
import json
import os
from collections import Counter
from pathlib import Path

from sensorpipe_edge.shortcut import Record

_SEQ = b'"seq":'


def _counted(line: bytes) -> tuple[bytes, int] | None:
    """(device id, seq) of a line whose frame and checksum hold, else None (the line is
    rejected as it is, and its numbers are not the device's)."""
    line = line.rstrip(b"\r\n")
    star = line.rfind(b"*")
    if not line.startswith(b"$") or star != len(line) - 5:
        return None
    body = line[1:star]
    try:
        if binascii.crc_hqx(body, 0xFFFF) != int(line[star + 1 :], 16):
            return None
    except ValueError:
        return None
    parts = body.split(b",", 2)
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


class BootEpochs:
    """Per device: its current boot epoch and the highest sequence number seen in it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        saved = json.loads(path.read_text()) if path.exists() else {}
        self._boot: dict[bytes, int] = {d.encode(): b for d, (b, _s) in saved.items()}
        self._last: dict[bytes, int] = {d.encode(): s for d, (_b, s) in saved.items()}
        self.reboots: Counter[bytes] = Counter()  # by device id, since this process started
        self._dirty = False

    def boot(self, device_id: bytes) -> int:
        return self._boot.get(device_id, 0)

    def observe(self, lines: list[bytes]) -> list[tuple[int, bytes, int]]:
        """Follow the devices' counters through a batch of lines, in order; return where a
        device rebooted: (position in the batch, device id, its new epoch)."""
        last, boot = self._last, self._boot
        changes: list[tuple[int, bytes, int]] = []
        for i, line in enumerate(lines):
            found = _counted(line)
            if found is None:
                continue
            device, seq = found
            before = last.get(device)
            if before is not None and seq < before:
                boot[device] = boot.get(device, 0) + 1
                self.reboots[device] += 1
                changes.append((i, device, boot[device]))
            last[device] = seq
            self._dirty = True
        return changes

    def stamp(self, records: list[Record], origins: list[int], lines: list[bytes]) -> list[Record]:
        """The records of a batch with their devices' epochs: ``origins[j]`` is the position
        in ``lines`` of ``records[j]``. Epoch 0 is written as no member at all, so a device
        that never rebooted keeps exactly the records (and identities) it had before boot
        epochs existed."""
        changes = self.observe(lines)
        if not self._boot:
            return records
        at: dict[bytes, list[tuple[int, int]]] = {}
        for i, device, epoch in changes:
            at.setdefault(device, []).append((i, epoch))
        out = []
        for (topic, key, value), origin in zip(records, origins, strict=True):
            epoch = self._epoch_at(key, origin, at.get(key))
            stamped = value.replace(_SEQ, b'"boot":%d,%s' % (epoch, _SEQ), 1) if epoch else value
            out.append((topic, key, stamped))
        return out

    def _epoch_at(self, device: bytes, origin: int, changes: list[tuple[int, int]] | None) -> int:
        """The device's epoch at batch position ``origin``, given its reboots in the batch."""
        epoch = self._boot.get(device, 0)
        if not changes:
            return epoch
        for i, new in reversed(changes):
            if origin >= i:
                return new
            epoch = new - 1
        return epoch

    def save(self) -> None:
        """Write atomically (tmp + rename) if anything changed since the last save."""
        if not self._dirty:
            return
        doc = {d.decode(): [self._boot.get(d, 0), s] for d, s in self._last.items()}
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self._path)
        self._dirty = False
