"""A virtual serial device: a pseudo-terminal whose slave path is symlinked at a fixed name.

The gateway opens the symlink like /dev/ttyUSB0. ``unplug`` closes the pty (the reader
gets an error, exactly like a USB adapter pulled out) and removes the link; ``plug``
makes a new pty behind the same name. Writes never block: with nobody reading, the
kernel buffer fills and further lines are dropped and counted, as a real UART would lose
them.
"""

from __future__ import annotations

import os
import tty
from pathlib import Path


class PtyDevice:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.dropped = 0
        self._master: int | None = None
        self._slave: int | None = None
        self.plug()

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)
        # Keeping the slave open ourselves keeps the line up while no gateway has it open.
        self._master, self._slave = master, slave

    def unplug(self) -> None:
        if self._master is None:
            return
        self.link.unlink(missing_ok=True)
        os.close(self._master)
        if self._slave is not None:
            os.close(self._slave)
        self._master = self._slave = None

    def write(self, data: bytes) -> bool:
        """Send bytes; False (and counted) if unplugged or the buffer is full."""
        if self._master is None:
            self.dropped += 1
            return False
        try:
            os.write(self._master, data)
        except BlockingIOError:
            self.dropped += 1
            return False
        return True

    def close(self) -> None:
        self.unplug()
