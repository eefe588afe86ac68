"""Operator settings read once from the process environment (docs/contracts.md §5).

Builders take the few settings they need (default images) as arguments, so they stay pure;
only ``main`` reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The serial devices a gateway may mount from its node while the cluster admin names none:
# USB and ACM adapters and their stable links. A board's own UARTs (ttyS, ttyAMA) and anything
# else must be allowed in the chart's devices.allowedPaths.
DEFAULT_DEVICE_PATHS = (
    "/dev/ttyUSB*",
    "/dev/ttyACM*",
    "/dev/serial/by-id/*",
    "/dev/serial/by-path/*",
)
# The device plugin resources a serial gateway may ask for while the cluster admin names
# none: the project's own plugin's (hack/deviceplugin). Others must be allowed in the chart's
# devices.allowedResources.
DEFAULT_DEVICE_RESOURCES = ("sensorpipe.dev/serial",)


def comma_list(text: str) -> tuple[str, ...]:
    """The items of a comma-separated setting, blanks dropped, as the chart joins lists."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class Images:
    """Default child images, used where the spec leaves ``image`` empty."""

    gateway: str = "ghcr.io/sensorpipe/gateway:0.1.0"
    spark: str = "ghcr.io/sensorpipe/spark:0.1.0"
    consumer: str = "ghcr.io/sensorpipe/gateway:0.1.0"


@dataclass(frozen=True)
class Settings:
    images: Images = Images()
    watch_namespaces: tuple[str, ...] = ()
    peering: str = ""
    metrics_port: int = 9090
    log_level: str = "INFO"
    # How often each pipeline's status is recomputed from its children (and drift re-checked
    # as a safety net behind the child watches); in-memory work only, no API writes.
    resync_seconds: float = 5.0
    # Shell-style patterns of the device paths serial gateways may mount
    # (SENSORPIPE_ALLOWED_DEVICES, comma-separated): the cluster admin's choice, not the
    # spec author's.
    allowed_devices: tuple[str, ...] = DEFAULT_DEVICE_PATHS
    # Shell-style patterns of the device plugin resources serial gateways may ask for
    # (SENSORPIPE_ALLOWED_DEVICE_RESOURCES, comma-separated), likewise the admin's.
    allowed_device_resources: tuple[str, ...] = DEFAULT_DEVICE_RESOURCES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = Images()
        level = env.get("SENSORPIPE_LOG_LEVEL", "INFO").upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"SENSORPIPE_LOG_LEVEL must be one of {LOG_LEVELS}, not {level!r}")
        return cls(
            images=Images(
                gateway=env.get("SENSORPIPE_GATEWAY_IMAGE") or defaults.gateway,
                spark=env.get("SENSORPIPE_SPARK_IMAGE") or defaults.spark,
                consumer=env.get("SENSORPIPE_CONSUMER_IMAGE") or defaults.consumer,
            ),
            watch_namespaces=comma_list(env.get("SENSORPIPE_WATCH_NAMESPACES", "")),
            peering=env.get("SENSORPIPE_PEERING", ""),
            metrics_port=int(env.get("SENSORPIPE_METRICS_PORT", "9090")),
            log_level=level,
            resync_seconds=float(env.get("SENSORPIPE_RESYNC_SECONDS", "5")),
            allowed_devices=comma_list(env.get("SENSORPIPE_ALLOWED_DEVICES", ""))
            or DEFAULT_DEVICE_PATHS,
            allowed_device_resources=comma_list(env.get("SENSORPIPE_ALLOWED_DEVICE_RESOURCES", ""))
            or DEFAULT_DEVICE_RESOURCES,
        )
