import logging

import pytest

from sensorpipe_operator import main, peering
from sensorpipe_operator.settings import Settings

pytestmark = pytest.mark.unit


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", logging.INFO, __file__, 1, message, None, None)


def test_routine_success_lines_are_dropped_and_the_rest_kept():
    quiet = main._QuietRoutine()
    assert not quiet.filter(_record("Handler 'pipeline' succeeded."))
    assert not quiet.filter(_record("Handler 'scaling-pipelines' succeeded."))
    assert not quiet.filter(_record("Handler 'child-Deployment' succeeded."))
    assert quiet.filter(_record("Handler 'topics-on-delete' succeeded."))
    assert quiet.filter(_record("Handler 'pipeline' failed with an exception. Will retry."))


def test_flags_override_the_environment():
    env = Settings(peering="from-env", metrics_port=9090, resync_seconds=5.0)
    args = main._args(
        ["--namespace", "a", "--namespace", "b", "--metrics-port", "0", "--resync-seconds", "1"],
        env,
    )
    assert args.namespace == ["a", "b"]
    assert (args.peering, args.metrics_port, args.resync_seconds) == ("from-env", 0, 1.0)
    assert main._args(["--peering", "x", "--priority", "7"], env).priority == 7


def test_default_priorities_differ_between_replicas():
    assert len({peering.default_priority() for _ in range(50)}) == 50
