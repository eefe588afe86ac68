"""The live dashboard in a real browser: headless Chromium loads the page that
`sensorpipe-local run` serves while simulated readings flow, and the page shows them.

Chromium and its driver are Debian's (`chromium`, `chromium-driver`; flags in
tests/browser.py), driven with selenium; the page has no external assets, so nothing leaves
the machine.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS
from tests.integration.local.conftest import SENSORPIPE_LOCAL, SPEC, write_manifest

pytestmark = pytest.mark.e2e

DEVICES = 4


def _wait_for_line(log: Path, proc: subprocess.Popen[bytes], pattern: str, limit: float) -> str:
    """The first match of ``pattern`` in the runner's output; fails with the output if the
    runner exits first or never prints it."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        m = re.search(pattern, log.read_text(errors="replace"))
        if m:
            return m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    pytest.fail(f"runner never printed {pattern!r}:\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def dashboard(stack, tmp_path) -> Iterator[tuple[str, Path]]:
    """A running `sensorpipe-local run` with its dashboard; stopped with two SIGTERMs (the second
    tells the runner not to wait for Spark) and checked to exit cleanly."""
    spec = dict(SPEC)
    spec["gateways"] = [
        {
            "name": "sim",
            "source": {"type": "simulated", "simulated": {"devices": DEVICES, "interval": "250ms"}},
        }
    ]
    manifest = write_manifest(tmp_path / "pipeline.yaml", f"dash-{secrets.token_hex(3)}", spec)
    log = tmp_path / "runner.log"
    work = tmp_path / "work"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SENSORPIPE_LOCAL, "run", "-f", str(manifest), "--bootstrap", stack["KAFKA_BOOTSTRAP"],
             "--work-dir", str(work), "--dashboard-port", "0", "--no-report"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        url = _wait_for_line(log, proc, r"dashboard: (http://\S+)", 120)
        yield url, tmp_path
    finally:
        proc.send_signal(signal.SIGTERM)
        _wait_for_line(log, proc, r"(SIGTERM: stopping)", 30)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 0, log.read_text(errors="replace")[-4000:]
    assert list((work / "pids").iterdir()) == [], "the runner left children behind"


@pytest.fixture
def browser(tmp_path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _shows_every_device(driver: webdriver.Chrome) -> bool:
    rows = driver.find_elements(By.CSS_SELECTOR, "#devices tr[data-device]")
    return len(rows) >= DEVICES and int(driver.find_element(By.ID, "t-readings").text) > 0


def test_dashboard_shows_live_readings_per_device(dashboard, browser):
    url, folder = dashboard
    browser.get(url)
    WebDriverWait(browser, 90, poll_frequency=1).until(_shows_every_device)
    first = int(browser.find_element(By.ID, "t-readings").text)
    WebDriverWait(browser, 30, poll_frequency=1).until(
        lambda d: int(d.find_element(By.ID, "t-readings").text) > first
    )  # readings keep arriving: the page is live, not a one-off load
    rows = browser.find_elements(By.CSS_SELECTOR, "#devices tr[data-device]")
    devices = {row.get_attribute("data-device") for row in rows}
    assert len(devices) == DEVICES, devices
    page = browser.page_source
    assert all(device in page for device in devices)
    assert re.search(r"temperature=-?\d+(\.\d)?", page), "no temperature value on the page"
    assert browser.find_elements(By.CSS_SELECTOR, "svg.spark polyline"), "no sparkline drawn"
    trends = {t.text.strip() for t in browser.find_elements(By.CSS_SELECTOR, ".trend")}
    # a sparkline per declared field, labelled with its unit, not a fixed temperature one
    assert {"temperature (°C)", "humidity (%)"} <= trends, trends

    shot = folder / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 20, f"screenshot {shot} is nearly blank ({len(colours)} colours)"
    # the devices table is drawn: its area is not all one colour
    table = browser.find_element(By.CSS_SELECTOR, "table").rect
    crop = image.crop(
        (int(table["x"]), int(table["y"]), int(table["x"] + table["width"]),
         int(table["y"] + table["height"]))
    )  # fmt: skip
    assert len(crop.getcolors(maxcolors=1 << 20) or []) > 5, "the table area is blank"
