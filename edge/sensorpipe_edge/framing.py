"""Cuts a byte stream (a serial port) into protocol lines.

A line longer than the protocol allows is passed on cut to ``keep`` bytes, so it reaches
the dead-letter topic as ``line_too_long`` with evidence, and the rest of it up to the
next newline is skipped: a device that never sends a newline cannot make the gateway
buffer without bound.
"""

from __future__ import annotations

from sensorpipe_edge.protocol import MAX_LINE_BYTES


class LineFramer:
    def __init__(self, keep: int = 4 * MAX_LINE_BYTES) -> None:
        self._keep = keep
        self._partial = b""
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines (without the newline) that ``data`` finishes."""
        parts = (self._partial + data).split(b"\n")
        self._partial = parts.pop()
        if self._skipping and parts:
            parts.pop(0)
            self._skipping = False
        if len(self._partial) > MAX_LINE_BYTES and not self._skipping:
            parts.append(self._partial[: self._keep])
            self._partial = b""
            self._skipping = True
        elif self._skipping:
            self._partial = b""
        return [p if len(p) <= self._keep else p[: self._keep] for p in parts]

    def flush(self) -> list[bytes]:
        """The unfinished line, when the stream ends (it will fail its checksum: a cut line)."""
        partial, self._partial = self._partial, b""
        skipping, self._skipping = self._skipping, False
        return [partial] if partial and not skipping else []
