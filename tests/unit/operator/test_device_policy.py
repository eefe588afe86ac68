from __future__ import annotations

from typing import Any

import pytest

from sensorpipe_operator import device_policy
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.settings import DEFAULT_DEVICE_PATHS, DEFAULT_DEVICE_RESOURCES, Settings

from .specs import full, with_change

pytestmark = pytest.mark.unit


def _with_device(device: str) -> dict[str, Any]:
    spec = full()
    spec["gateways"][0]["source"]["serial"]["device"] = device
    return spec


@pytest.mark.parametrize(
    "device", ["/dev/ttyUSB0", "/dev/ttyACM3", "/dev/serial/by-id/usb-Arduino_Uno-if00"]
)
def test_usb_serial_adapters_are_allowed_by_default(device: str) -> None:
    device_policy.check(parse(_with_device(device), "farm", "iot"), DEFAULT_DEVICE_PATHS)


@pytest.mark.parametrize("device", ["/dev/ttyS0", "/dev/ttyAMA0"])
def test_a_board_uart_needs_the_admin(device: str) -> None:
    model = parse(_with_device(device), "farm", "iot")
    with pytest.raises(SpecError) as refused:
        device_policy.check(model, DEFAULT_DEVICE_PATHS)
    assert refused.value.path == "spec.gateways[0].source.serial.device"
    assert "devices.allowedPaths" in refused.value.message
    device_policy.check(model, ("/dev/ttyAMA*", "/dev/ttyS0"))


def test_pipelines_without_serial_gateways_need_nothing() -> None:
    simulated = with_change(full(), "gateways", [{"name": "sim", "source": {"type": "simulated"}}])
    device_policy.check(parse(simulated, "farm", "iot"), ())


def test_the_allow_list_comes_from_the_environment() -> None:
    assert Settings.from_env({}).allowed_devices == DEFAULT_DEVICE_PATHS
    assert Settings.from_env({"SENSORPIPE_ALLOWED_DEVICES": ""}).allowed_devices == (
        DEFAULT_DEVICE_PATHS
    )
    env = {"SENSORPIPE_ALLOWED_DEVICES": "/dev/ttyAMA0, /dev/ttyUSB*"}
    assert Settings.from_env(env).allowed_devices == ("/dev/ttyAMA0", "/dev/ttyUSB*")


def _with_resource(resource: str) -> dict[str, Any]:
    spec = _with_device("/dev/ttyS0")
    spec["gateways"][0]["source"]["serial"]["resource"] = resource
    return spec


def test_a_device_plugin_resource_is_checked_instead_of_the_path() -> None:
    """With a resource, ``device`` is a path in the container: only the resource counts."""
    model = parse(_with_resource("sensorpipe.dev/serial"), "farm", "iot")
    device_policy.check(model, DEFAULT_DEVICE_PATHS, DEFAULT_DEVICE_RESOURCES)
    other = parse(_with_resource("vendor.example/uart"), "farm", "iot")
    with pytest.raises(SpecError) as refused:
        device_policy.check(other, DEFAULT_DEVICE_PATHS, DEFAULT_DEVICE_RESOURCES)
    assert refused.value.path == "spec.gateways[0].source.serial.resource"
    assert "devices.allowedResources" in refused.value.message
    device_policy.check(other, (), ("vendor.example/*",))


def test_the_resource_allow_list_comes_from_the_environment() -> None:
    assert Settings.from_env({}).allowed_device_resources == DEFAULT_DEVICE_RESOURCES
    env = {"SENSORPIPE_ALLOWED_DEVICE_RESOURCES": "a.example/tty, b.example/*"}
    assert Settings.from_env(env).allowed_device_resources == ("a.example/tty", "b.example/*")
