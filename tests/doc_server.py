"""A local HTTP server whose one document changes, fails, is slow, redirects
or grows on demand: the live reference behind a watched source in tests.

Served on 127.0.0.1 by `http.server` in a thread. It answers conditional
requests (ETag / Last-Modified) with 304 and counts them. "Slow" blocks the
handler on an event the test releases (never a sleep), so a client with a
short timeout gives up first.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Document:
    body: bytes = b"start,end\n"
    mode: str = "ok"  # ok | fail | slow | redirect_other_host | redirect_same_host
    status: int = 500
    modified: float = 1_700_000_000.0
    requests: int = 0
    not_modified: int = 0
    release_slow: threading.Event = field(default_factory=threading.Event)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def set(self, body: bytes) -> None:
        self.body = body
        self.modified += 60
        self.mode = "ok"


@dataclass
class DocServer:
    document: Document
    server: ThreadingHTTPServer

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/windows.csv") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(doc: Document) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            doc.requests += 1
            if doc.mode == "slow":
                doc.release_slow.wait(30)
            if doc.mode == "fail":
                self.send_response(doc.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if doc.mode.startswith("redirect") and self.path != "/moved":
                host = "localhost" if doc.mode == "redirect_other_host" else "127.0.0.1"
                self.send_response(302)
                port = self.server.server_address[1]
                self.send_header("Location", f"http://{host}:{port}/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            last_modified = formatdate(doc.modified, usegmt=True)
            if self.headers.get("If-None-Match") == doc.etag:
                doc.not_modified += 1
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(doc.body)))
            self.send_header("ETag", doc.etag)
            self.send_header("Last-Modified", last_modified)
            self.end_headers()
            self.wfile.write(doc.body)

    return Handler


@contextmanager
def doc_server(document: Document | None = None) -> Iterator[DocServer]:
    doc = document or Document()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(doc))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield DocServer(doc, server)
    finally:
        doc.release_slow.set()
        server.shutdown()
        server.server_close()
