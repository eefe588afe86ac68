"""``sensorpipe-sim`` on stdout: the seeds' knobs (count, interval, duration) and faults."""

from __future__ import annotations

import pytest

from sensorpipe_edge.protocol import Rejected, parse
from sensorpipe_edge.simulator import main

pytestmark = pytest.mark.unit


def test_counts_interval_duration_and_corruption(capsysbinary):
    main(["--devices", "4", "--interval", "0.5", "--duration", "10", "--fast", "--seed", "3",
          "--fault", "corrupt=0.2"])  # fmt: skip
    # Split on the CRLF terminator only: a flipped bit may turn a body byte into CR or LF.
    lines = [line + b"\r\n" for line in capsysbinary.readouterr().out.split(b"\r\n")[:-1]]
    assert len(lines) == 4 * 20 * 3  # devices x (duration / interval) x streams
    reasons = []
    for line in lines:
        try:
            parse(line)
        except Rejected as exc:
            reasons.append(exc.reason)
    assert set(reasons) <= {"checksum_mismatch", "malformed_line"}
    assert 0.1 * len(lines) < len(reasons) < 0.3 * len(lines)
