"""The cluster admin's say over which node devices a pipeline may use.

The CRD already confines ``serial.device`` to serial device nodes, but whoever may write a
SensorPipeline is not whoever may hand a node's hardware to a pod: the operator mounts only
paths that match the patterns the chart's ``devices.allowedPaths`` declares, and asks only for
the device plugin resources that match ``devices.allowedResources``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import Pipeline
from sensorpipe_operator.settings import DEFAULT_DEVICE_RESOURCES


def check(
    pipeline: Pipeline,
    allowed: tuple[str, ...],
    allowed_resources: tuple[str, ...] = DEFAULT_DEVICE_RESOURCES,
) -> None:
    """Refuse the first serial gateway whose device (or device plugin resource) no allowed
    pattern matches, naming the field and where the admin allows more, before any child is
    built. A gateway with a resource mounts no node path, so only its resource is checked:
    its ``device`` is a path inside its own container."""
    for i, gateway in enumerate(pipeline.gateways):
        serial = gateway.source.serial
        if serial is None:
            continue
        if serial.resource is not None:
            if not any(fnmatchcase(serial.resource, p) for p in allowed_resources):
                raise SpecError(
                    f"spec.gateways[{i}].source.serial.resource",
                    f"{serial.resource} is not among the device plugin resources the cluster "
                    f"admin allows ({', '.join(allowed_resources) or 'none'}); they are set in "
                    "the chart's devices.allowedResources",
                )
            continue
        if not any(fnmatchcase(serial.device, p) for p in allowed):
            raise SpecError(
                f"spec.gateways[{i}].source.serial.device",
                f"{serial.device} is not among the devices the cluster admin allows "
                f"({', '.join(allowed)}); they are set in the chart's devices.allowedPaths",
            )
