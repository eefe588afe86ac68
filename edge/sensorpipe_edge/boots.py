"""Boot epochs: the part of a reading's identity that survives a device restarting its counter.

A reading is identified by (stream, device_id, boot, seq). A hobby sketch counts ``seq`` from
0 again after every power cycle, so without ``boot`` its post-reboot readings would carry the
identities of readings the lake already holds, and deduplication would drop them. The
gateway therefore numbers a device's boots itself: ``boot`` starts at 0 and goes up by one
whenever the device's sequence number goes backwards.

This is only sound for a source that tells lines it presents again (``Source
.tells_redeliveries``): a serial port never presents one again, and an MQTT broker sets DUP
on what it redelivers. There, a fresh line whose counter went backwards is the device's own
doing; a redelivered one keeps the device's current epoch and moves nothing. A source that
replays without saying so (the simulator regenerating after a restart, a Kafka consumer
re-reading from its committed offsets) keeps every device in epoch 0. Only readings count
(their lines passed the checksum and every check), because a bit flipped in ``seq`` of a
corrupted line must not look like a reboot; a rejected line spends a number but gets no
identity, so it cannot collide with anything.

One window is not covered: an MQTT device that reboots while the gateway holds its earlier
messages unacknowledged, and a gateway crash before they are secured. The broker then
redelivers both sides of the reboot with DUP, and they all take the epoch on disk, so the
pre-reboot ones get a new identity (a duplicate the lake keeps). The window is the broker's
in-flight limit (20 messages by default) within one ``maintain_every`` save.

The epochs and the highest number seen per device are saved beside the resume points on the
spool volume, so a gateway killed with SIGKILL restarts with the same epochs (a line it
reads again after the restart keeps its identity) and still notices a device that rebooted
while it was down. A save may miss the last ``maintain_every`` seconds: the restarted
gateway then sees a number below the one it last handled only if the device rebooted, which
it counts again as the same reboot (the epoch on disk is the one before it).

Cost: one regular-expression pass over a batch's records and a dictionary look-up per
record, about 1-2 µs a reading; a serial port carries at most some 200 lines a second.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from operator import itemgetter
from pathlib import Path

from sensorpipe_edge.shortcut import Record

_SEQ = b'"seq":'
# a record's device id and sequence number, as layout.head writes them (ids have no quotes)
_IDENTITY = re.compile(rb'"device_id":"([^"]*)","stream":"[^"]*","seq":(\d+)')
_VALUE = itemgetter(2)


class BootEpochs:
    """Per device: its current boot epoch and the highest sequence number seen in it."""

    def __init__(self, path: Path) -> None:
        self._path = path
        saved = json.loads(path.read_text()) if path.exists() else {}
        self._boot: dict[bytes, int] = {d.encode(): b for d, (b, _s) in saved.items()}
        self._last: dict[bytes, int] = {d.encode(): s for d, (_b, s) in saved.items()}
        self.reboots: Counter[bytes] = Counter()  # by device id, since this process started
        self._dirty = False

    def stamp(self, records: list[Record], redelivered: bool = False) -> list[Record]:
        """Follow the devices' counters through a batch of records, in order, and return the
        records with their devices' epochs. Epoch 0 is written as no member at all, so a
        device that never rebooted keeps exactly the records (and identities) it had before
        boot epochs existed. Records the source presents again (``redelivered``) take their
        devices' current epochs and leave the counters as they are."""
        if not records:
            return records
        found = _IDENTITY.findall(b"\n".join(map(_VALUE, records)))
        if len(found) != len(records):
            raise ValueError("a record without the identity layout.head writes")
        last, boot = self._last, self._boot
        stamps: list[tuple[int, int]] = []
        for j, (device, text) in enumerate(found):
            seq = int(text)
            if not redelivered:
                before = last.get(device)
                if before is not None and seq < before:
                    boot[device] = boot.get(device, 0) + 1
                    self.reboots[device] += 1
                last[device] = seq
            epoch = boot.get(device)
            if epoch:
                stamps.append((j, epoch))
        self._dirty = True
        if not stamps:
            return records
        out = list(records)
        for j, epoch in stamps:
            topic, key, value = out[j]
            out[j] = (topic, key, value.replace(_SEQ, b'"boot":%d,%s' % (epoch, _SEQ), 1))
        return out

    def save(self) -> None:
        """Write atomically (tmp + rename) if anything changed since the last save."""
        if not self._dirty:
            return
        doc = {d.decode(): [self._boot.get(d, 0), s] for d, s in self._last.items()}
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self._path)
        self._dirty = False
