"""The cluster admin's say over which node devices a pipeline may mount.

The CRD already confines ``serial.device`` to serial device nodes, but whoever may write a
SensorPipeline is not whoever may hand a node's hardware to a pod: the operator mounts only
paths that match the patterns the chart's ``devices.allowedPaths`` declares.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import Pipeline


def check(pipeline: Pipeline, allowed: tuple[str, ...]) -> None:
    """Refuse the first serial gateway whose device no allowed pattern matches, naming the
    field and where the admin allows more, before any child is built."""
    for i, gateway in enumerate(pipeline.gateways):
        serial = gateway.source.serial
        if serial is None or any(fnmatchcase(serial.device, p) for p in allowed):
            continue
        raise SpecError(
            f"spec.gateways[{i}].source.serial.device",
            f"{serial.device} is not among the devices the cluster admin allows "
            f"({', '.join(allowed)}); they are set in the chart's devices.allowedPaths",
        )
