"""What a sandboxed child prints: its stdout/stderr pipe, drained in a thread and capped."""

from __future__ import annotations

import fcntl
import os
import select
import sys
import termios
import threading
import time

STDOUT_CAP = 16 * 1024


class OutputDrain:
    """Drains the child's stdout/stderr in a thread; keeps the first STDOUT_CAP bytes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = bytearray()
        self.truncated = False
        self.done = threading.Event()
        # Held while a chunk is read AND appended: "nothing pending in the pipe" under this lock
        # then means everything written so far is in self.data.
        self._lock = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="sandbox-stdout").start()

    def _run(self) -> None:
        try:
            while True:
                select.select([self.fd], [], [])
                with self._lock:
                    chunk = os.read(self.fd, 65536)
                    room = STDOUT_CAP - len(self.data)
                    if room > 0:
                        self.data += chunk[:room]
                    if len(chunk) > max(room, 0):
                        self.truncated = True
                if not chunk:
                    break
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                os.close(self.fd)
                self.done.set()

    def _pending(self) -> int:
        buf = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)

    def text(self, wait_s: float = 0.2) -> str:
        """What the child printed; waits briefly for the pipe to close (the sandbox is gone by then)."""
        self.done.wait(wait_s)
        return self._decoded()

    def text_so_far(self, wait_s: float = 0.05) -> str:
        """What a still-running child has printed up to now: drained until the pipe is empty, without
        waiting for the sandbox to be torn down (which a living child's pipe needs to reach EOF)."""
        end = time.monotonic() + wait_s
        while True:
            with self._lock:
                if self.done.is_set() or self._pending() == 0:
                    break
            if time.monotonic() > end:
                break
            time.sleep(0.0005)
        return self._decoded()

    def _decoded(self) -> str:
        with self._lock:
            s = bytes(self.data).decode("utf-8", errors="replace")
            return s + ("\n[output truncated]" if self.truncated else "")
