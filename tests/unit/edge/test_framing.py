"""Cutting a byte stream into lines: split reads, overlong lines, a stream that ends."""

from __future__ import annotations

import pytest

from sensorpipe_edge.framing import LineFramer
from sensorpipe_edge.protocol import MAX_LINE_BYTES

pytestmark = pytest.mark.unit


def test_lines_split_across_reads_come_out_whole():
    f = LineFramer()
    assert f.feed(b"$a*00") == []
    assert f.feed(b"00\r\n$b") == [b"$a*0000\r"]
    assert f.feed(b"*1111\r\n") == [b"$b*1111\r"]


def test_overlong_line_is_passed_on_cut_and_its_rest_skipped():
    f = LineFramer(keep=300)
    out = f.feed(b"x" * (MAX_LINE_BYTES + 100))
    assert out == [b"x" * 300]
    assert f.feed(b"y" * 5000) == []
    assert f.feed(b"zz\n$ok*0000\n") == [b"$ok*0000"]


def test_flush_returns_the_unfinished_line():
    f = LineFramer()
    f.feed(b"$full*0000\n$cut")
    assert f.flush() == [b"$cut"]
    assert f.flush() == []
