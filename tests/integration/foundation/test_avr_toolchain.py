"""A minimal sketch, compiled for the ATmega328P with Debian's AVR toolchain and Arduino core,
runs under simavr and its serial output is read through a pty with pyserial."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import serial

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

ARDUINO_AVR = Path("/usr/share/arduino/hardware/arduino/avr")
SKETCH = """
#include <Arduino.h>
unsigned long n = 0;
void setup() { Serial.begin(115200); }
void loop() { Serial.print("hello sensorpipe "); Serial.println(n++); delay(50); }
"""


def compile_minimal_sketch(tmp: Path) -> Path:
    core = ROOT / "firmware" / "build" / "core.a"
    subprocess.run(["make", "-C", str(ROOT / "firmware")], check=True, capture_output=True)
    assert core.exists(), "make -C firmware did not build the Arduino core archive"
    src = tmp / "minimal.cpp"
    src.write_text(SKETCH)
    obj, elf = tmp / "minimal.o", tmp / "minimal.elf"
    flags = [
        "-mmcu=atmega328p",
        "-DF_CPU=16000000L",
        "-DARDUINO=10819",
        "-DARDUINO_AVR_UNO",
        "-DARDUINO_ARCH_AVR",
        "-DDECIMAL_DIG=__DECIMAL_DIG__",
        "-Os",
        f"-I{ARDUINO_AVR / 'cores' / 'arduino'}",
        f"-I{ARDUINO_AVR / 'variants' / 'standard'}",
    ]
    subprocess.run(["avr-g++", *flags, "-c", str(src), "-o", str(obj)], check=True)
    subprocess.run(
        [
            "avr-gcc",
            "-mmcu=atmega328p",
            "-Os",
            "-Wl,--gc-sections",
            "-o",
            str(elf),
            str(obj),
            str(core),
            "-lm",
        ],
        check=True,
    )
    size = subprocess.run(["avr-size", str(elf)], check=True, capture_output=True, text=True)
    assert "minimal.elf" in size.stdout
    return elf


def test_minimal_sketch_serial_output_through_a_pty(tmp_path):
    elf = compile_minimal_sketch(tmp_path)
    link = tmp_path / "ttyAVR"
    control = tmp_path / "control"
    control.write_text("")
    sim = subprocess.Popen(
        [
            str(ROOT / "firmware" / "build" / "sensornode-sim"),
            str(elf),
            "--control",
            str(control),
            "--link",
            str(link),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not link.exists():
            assert sim.poll() is None, f"simavr host exited: {sim.communicate()[1]}"
            assert time.monotonic() < deadline, "simavr host made no pty"
            time.sleep(0.05)
        numbers: list[int] = []
        with serial.Serial(str(link), 115200, timeout=1) as port:
            while len(numbers) < 5 and time.monotonic() < deadline + 20:
                line = port.readline().decode(errors="replace").strip()
                m = re.fullmatch(r"hello sensorpipe (\d+)", line)
                if m:
                    numbers.append(int(m.group(1)))
        assert len(numbers) == 5, f"read only {numbers}"
        # Lines sent before the pty was opened are lost; what is read is contiguous.
        assert numbers == list(range(numbers[0], numbers[0] + 5))
    finally:
        sim.terminate()
        sim.wait(10)
