"""A real local HTTP receiver for webhook tests (an intake-routing system).

It answers 500 to the first `fail_first` requests, then 200; with
`hold_first_success`, the first request it would accept is recorded as
received and then held open until `release_hold` is set (so a test can kill
the sender after the receiver took a delivery and before the sender saw the
answer). Every request is recorded; `accepted` lists the deliveries it took
(by id, duplicates included), and `wait_for` waits on a condition, never a
sleep.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    delivery_id: str
    signature: str
    body: bytes
    status: int

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    def verifies(self, secret: str) -> bool:
        mac = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.signature, f"sha256={mac}")


@dataclass
class Receiver:
    fail_first: int = 0
    hold_first_success: bool = False
    requests: list[Received] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release_hold: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/intake"

    @property
    def accepted(self) -> list[Received]:
        with self.changed:
            return [r for r in self.requests if r.status == 200]

    def unique(self) -> dict[str, Received]:
        """Accepted deliveries, de-duplicated by id (first copy kept)."""
        seen: dict[str, Received] = {}
        for r in self.accepted:
            seen.setdefault(r.delivery_id, r)
        return seen

    def wait_for(self, test: Callable[[], bool], timeout: float = 30.0) -> bool:
        with self.changed:
            return self.changed.wait_for(test, timeout)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.changed:
                    failing = len(receiver.requests) < receiver.fail_first
                    hold = (
                        not failing
                        and receiver.hold_first_success
                        and not receiver.held.is_set()
                    )
                    receiver.requests.append(
                        Received(
                            self.headers.get("X-Quire-Delivery", ""),
                            self.headers.get("X-Quire-Signature", ""),
                            body,
                            500 if failing else 200,
                        )
                    )
                    if hold:
                        receiver.held.set()
                    receiver.changed.notify_all()
                if hold:
                    receiver.release_hold.wait(60)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release_hold.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
