"""A bounded on-disk FIFO of Kafka records, for while Kafka is unreachable.

One append-only file plus a small "head" file holding the read position. Each append is
one write(2) on an O_APPEND descriptor, so a record is in the kernel's page cache before
``append`` returns: a kill -9 of the gateway loses nothing that was spooled (a power cut
may lose the tail; call ``sync`` for that). A record cut by a crash mid-write is detected
by its length prefix on open and dropped. When the reader catches up with the writer the
file is truncated, so the spool never grows past ``max_bytes`` of outstanding records.

Record layout: u32 body length, then u16 topic length, topic, i32 key length (-1 = no
key), key, value — all big-endian.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

_LEN = struct.Struct(">I")
_TOPIC = struct.Struct(">H")
_KEY = struct.Struct(">i")

Record = tuple[str, bytes | None, bytes]


class SpoolFull(Exception):
    """The spool holds max_bytes already; the caller decides what to do with the record."""


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._data = directory / "spool.bin"
        self._head_file = directory / "spool.head"
        self._max = max_bytes
        self._fd = os.open(self._data, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._head = int(self._head_file.read_text()) if self._head_file.exists() else 0
        self._size = self._recover()

    def _recover(self) -> int:
        """Length of the file up to the last whole record; a cut tail is truncated away."""
        size = os.fstat(self._fd).st_size
        if self._head > size:
            self._head = 0
        pos = self._head
        while pos + _LEN.size <= size:
            (n,) = _LEN.unpack(os.pread(self._fd, _LEN.size, pos))
            if pos + _LEN.size + n > size:
                break
            pos += _LEN.size + n
        if pos != size:
            os.ftruncate(self._fd, pos)
        return pos

    def __len__(self) -> int:
        """Bytes of records not yet replayed."""
        return self._size - self._head

    def append(self, topic: str, key: bytes | None, value: bytes) -> None:
        t = topic.encode()
        k = key or b""
        body = b"".join(
            (_TOPIC.pack(len(t)), t, _KEY.pack(-1 if key is None else len(k)), k, value)
        )
        if len(self) + len(body) + _LEN.size > self._max:
            raise SpoolFull(f"spool holds {len(self)} bytes, limit {self._max}")
        os.write(self._fd, _LEN.pack(len(body)) + body)
        self._size += _LEN.size + len(body)

    def peek(self, max_records: int) -> tuple[list[Record], int]:
        """Up to ``max_records`` records from the head, and the position just after them."""
        out: list[Record] = []
        pos = self._head
        while pos < self._size and len(out) < max_records:
            (n,) = _LEN.unpack(os.pread(self._fd, _LEN.size, pos))
            body = os.pread(self._fd, n, pos + _LEN.size)
            out.append(_decode(body))
            pos += _LEN.size + n
        return out, pos

    def commit(self, position: int) -> None:
        """Everything before ``position`` was delivered: move the head, truncate when empty."""
        if position >= self._size:
            os.ftruncate(self._fd, 0)
            self._size = position = 0
        self._head = position
        tmp = self._head_file.with_suffix(".tmp")
        tmp.write_text(str(position))
        tmp.replace(self._head_file)

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def _decode(body: bytes) -> Record:
    (tlen,) = _TOPIC.unpack_from(body, 0)
    topic = body[_TOPIC.size : _TOPIC.size + tlen].decode()
    pos = _TOPIC.size + tlen
    (klen,) = _KEY.unpack_from(body, pos)
    pos += _KEY.size
    key = None if klen < 0 else body[pos : pos + klen]
    pos += max(klen, 0)
    return topic, key, body[pos:]
