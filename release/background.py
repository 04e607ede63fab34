"""What the release side's background workers share (the expiry sweeper, the
source watcher, the webhook sender): one daemon thread, started and stopped
with the services, that runs `_run` until `stop` is asked."""

from __future__ import annotations

import threading
from typing import ClassVar


class BackgroundThread:
    #: The thread's name (seen in thread dumps and logs).
    thread_name: ClassVar[str]

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=self.thread_name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout=self._join_seconds())
            self._thread = None

    def _interrupt(self) -> None:
        """Wakes `_run` from a wait that `_stop` does not end."""

    def _join_seconds(self) -> float:
        """How long `stop` waits for a pass under way to end."""
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError
