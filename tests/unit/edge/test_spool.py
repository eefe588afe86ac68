"""The on-disk spool: FIFO, bounded, survives reopening, drops a record cut by a crash."""

from __future__ import annotations

import os

import pytest

from sensorpipe_edge.spool import Spool, SpoolFull

pytestmark = pytest.mark.unit


def test_fifo_commit_and_truncate_when_drained(tmp_path):
    s = Spool(tmp_path, 1 << 20)
    for i in range(5):
        s.append("t", f"k{i}".encode(), f"v{i}".encode())
    s.append("t2", None, b"")
    first, pos = s.peek(2)
    assert first == [("t", b"k0", b"v0"), ("t", b"k1", b"v1")]
    s.commit(pos)
    rest, pos = s.peek(100)
    assert rest == [
        ("t", b"k2", b"v2"),
        ("t", b"k3", b"v3"),
        ("t", b"k4", b"v4"),
        ("t2", None, b""),
    ]
    s.commit(pos)
    assert len(s) == 0
    assert (tmp_path / "spool.bin").stat().st_size == 0


def test_reopen_keeps_head_and_drops_a_cut_tail(tmp_path):
    s = Spool(tmp_path, 1 << 20)
    for i in range(3):
        s.append("t", b"k", f"v{i}".encode())
    _, pos = s.peek(1)
    s.commit(pos)
    s.close()
    with open(tmp_path / "spool.bin", "ab") as f:
        f.write(b"\x00\x00\x01\x00partial")  # a record the crash cut short
    s2 = Spool(tmp_path, 1 << 20)
    assert s2.peek(10)[0] == [("t", b"k", b"v1"), ("t", b"k", b"v2")]
    s2.append("t", b"k", b"v3")
    assert [v for _, _, v in s2.peek(10)[0]] == [b"v1", b"v2", b"v3"]


def test_bounded(tmp_path):
    s = Spool(tmp_path, 100)
    s.append("t", b"k", b"x" * 50)
    with pytest.raises(SpoolFull):
        s.append("t", b"k", b"x" * 50)
    assert len(s) == os.path.getsize(tmp_path / "spool.bin")
