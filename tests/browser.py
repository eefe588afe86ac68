"""Headless Chromium (Debian's `chromium`, installed by set-up) as the tests run it: no
network of its own, a fresh profile each time, nothing that phones home."""

from __future__ import annotations

import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1280, 900)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


def screenshot(url: str, out: Path, profile: Path) -> Path:
    """The first screen (WINDOW) of ``url`` as a PNG at ``out``, as a person opening it sees it."""
    proc = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
         f"--screenshot={out}", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not out.is_file():
        raise AssertionError(f"chromium could not take {out}: {proc.stderr[-2000:]}")
    return out
