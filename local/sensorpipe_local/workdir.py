"""Where the local runner keeps each thing in its work directory.

One place names every path, so the runner, the report (which may run later, from another
process, with only ``--work-dir``) and the tests agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The lake's tables, as sensorpipe_spark.config names them under the lake path.
READINGS_TABLE = "readings"
AGGREGATES_TABLE = "aggregates"


@dataclass(frozen=True)
class WorkDir:
    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def pid_dir(self) -> Path:
        return self.root / "pids"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def report_dir(self) -> Path:
        return self.root / "report"

    @property
    def run_file(self) -> Path:
        """What ran: the localised runtime document and the children (written at start)."""
        return self.root / "run.json"

    @property
    def status_file(self) -> Path:
        """The latest progress snapshot, rewritten while running and kept after the stop."""
        return self.root / "status.json"

    def config(self, child: str) -> Path:
        return self.config_dir / f"{child}.json"

    def pid(self, child: str) -> Path:
        return self.pid_dir / f"{child}.pid"

    def log(self, child: str) -> Path:
        return self.log_dir / f"{child}.log"

    def spool(self, gateway: str) -> Path:
        return self.root / "spool" / gateway

    def firmware_dir(self, gateway: str) -> Path:
        return self.root / "firmware" / gateway

    def firmware_tty(self, gateway: str) -> Path:
        """The stable symlink the simavr host makes to its pty, handed to the gateway."""
        return self.firmware_dir(gateway) / "tty"

    def firmware_control(self, gateway: str) -> Path:
        return self.firmware_dir(gateway) / "control"

    def create(self) -> None:
        for folder in (self.config_dir, self.pid_dir, self.log_dir, self.report_dir):
            folder.mkdir(parents=True, exist_ok=True)
