"""Refused requests, rate-limited into counted audit records.

Every refused write (and refused read) is audited, but one user repeating the
same refused request must not grow the event log without bound. Per process,
each (user, request, code, packet) opens a window: its first refusal is
recorded at once; repeats inside the window are only counted here, and
recorded as ONE `AuditTrail.Refused` event carrying `count` when the window
has closed (a background flusher, the next refusal of the same kind, or
`close()`). The counts are exact; only a killed process loses the repeats of
its open windows. Memory is bounded: past `max_keys` windows the oldest is
recorded early and dropped.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workspace.accounts import Principal

log = logging.getLogger(__name__)

#: (user id, request, code, packet id)
Key = tuple[str, str, str, str | None]
#: Records one audit event for `count` refusals of the caller.
Record = Callable[[Principal, dict[str, Any], int], None]

WINDOW_SECONDS = 60.0
MAX_KEYS = 10_000


@dataclass
class _Window:
    key: Key
    opened: datetime
    principal: Principal
    fields: dict[str, Any]
    repeats: int = 0  # counted here, not yet recorded


class RefusalCoalescer:
    def __init__(
        self,
        record: Record,
        clock: Callable[[], datetime],
        *,
        window_seconds: float = WINDOW_SECONDS,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._record = record
        self._clock = clock
        self.window = timedelta(seconds=window_seconds)
        self.max_keys = max_keys
        self._windows: OrderedDict[Key, _Window] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def refused(
        self,
        principal: Principal,
        request: str,
        code: str,
        message: str,
        packet_id: str | None,
    ) -> None:
        key: Key = (principal.user_id, request, code, packet_id)
        fields = {
            "request": request,
            "code": code,
            "message": message,
            "packet_id": packet_id,
        }
        now = self._clock()
        due: list[_Window] = []
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now < window.opened + self.window:
                window.repeats += 1
                window.fields = fields  # the latest message stands for the rest
                self._start_flusher()
                return
            if window is not None:
                del self._windows[key]
                due.append(window)
            while len(self._windows) >= self.max_keys:
                due.append(self._windows.popitem(last=False)[1])
            self._windows[key] = _Window(key, now, principal, fields)
        self._write(due)
        self._record(principal, fields, 1)

    def flush(self, *, everything: bool = False) -> None:
        """Records the repeats of every closed window (of all, if `everything`)."""
        now = self._clock()
        due: list[_Window] = []
        with self._lock:
            for key in list(self._windows):
                window = self._windows[key]
                if not everything and now < window.opened + self.window:
                    continue
                del self._windows[key]
                due.append(window)
        self._write(due)

    def pending(self) -> int:
        """Refusals counted but not recorded yet."""
        with self._lock:
            return sum(w.repeats for w in self._windows.values())

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=30)
        self.flush(everything=True)

    def _write(self, windows: list[_Window]) -> None:
        for n, window in enumerate(windows):
            if not window.repeats:
                continue
            try:
                self._record(window.principal, window.fields, window.repeats)
            except Exception:
                self._restore(windows[n:])  # nothing lost: counted again later
                raise

    def _restore(self, windows: list[_Window]) -> None:
        with self._lock:
            for window in windows:
                current = self._windows.get(window.key)
                if current is None:
                    self._windows[window.key] = window
                    self._windows.move_to_end(window.key, last=False)
                else:
                    current.repeats += window.repeats

    def _start_flusher(self) -> None:
        """(Under the lock.) A daemon thread records closed windows."""
        if self._flusher is not None or self._stop.is_set():
            return
        interval = min(max(self.window.total_seconds() / 4, 0.05), 15.0)

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.flush()
                except Exception:  # the database is away: retried next round
                    log.exception("could not record coalesced refusals")

        self._flusher = threading.Thread(target=run, name="quire-refusals", daemon=True)
        self._flusher.start()
