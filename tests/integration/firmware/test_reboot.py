"""A sensor node that restarts its counter, read by the real gateway (issue 18).

simavr keeps no EEPROM from one run to the next, so a node started again counts its sequence
numbers from 0, as a hobby sketch does after every power cycle. Before boot epochs its
post-reboot readings carried the identities of readings already delivered, and the lake
dropped them. Here the gateway must give them the next epoch and count the reboot, and a
gateway killed with SIGKILL must come back with the same epoch (no reboot counted again),
so that identities stay stable across gateway crashes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.edge.helpers import STREAMS, create_pipeline, read_topics
from tests.integration.firmware.conftest import Node

pytestmark = pytest.mark.integration

REBOOTS = 'sensorpipe_gateway_device_reboots_total{device="node-01"}'


def in_boot(boot: int, at_least: int) -> Any:
    """An ``until`` for read_topics: ``at_least`` readings of epoch ``boot`` arrived."""
    return lambda recs: sum(1 for r in recs if r.get("boot", 0) == boot) >= at_least


def test_a_power_cycle_starts_a_new_boot_epoch_that_a_gateway_kill_keeps(
    firmware, tmp_path, gateways, kafka_bootstrap, unique_name
):
    workdir = tmp_path / "node"
    workdir.mkdir()
    node = Node(firmware, workdir)
    source = {"type": "serial", "serial": {"device": str(node.link), "baudRate": 115200}}
    doc = create_pipeline(kafka_bootstrap, unique_name, source)
    topics = [doc["topics"]["streams"][s] for s in STREAMS]
    gw = gateways(doc).start()
    try:
        read_topics(kafka_bootstrap, topics, until=in_boot(0, 9), timeout=120)
        node.stop()
        node = Node(firmware, workdir)  # power on again: the counter starts at 0
        read_topics(kafka_bootstrap, topics, until=in_boot(1, 9), timeout=120)
        assert gw.metrics().get(REBOOTS) == 1

        gw.kill9()
        gw.start()  # the same spool volume, so the same boots.json
        read_topics(kafka_bootstrap, topics, until=in_boot(1, 30), timeout=120)
        assert gw.metrics().get(REBOOTS, 0) == 0, "a gateway restart is not a reboot"
        assert gw.stop() == 0
    finally:
        node.stop()

    readings = read_topics(kafka_bootstrap, topics)
    ids = [(r.get("boot", 0), r["seq"]) for r in readings]
    assert len(ids) == len(set(ids)), "an identity was used twice"
    assert {boot for boot, _ in ids} == {0, 1}
    before = max(seq for boot, seq in ids if boot == 0)
    assert min(seq for boot, seq in ids if boot == 1) < before, "the counter did not go back"
