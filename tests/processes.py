"""Starting real `quire serve` processes and waiting on their acknowledgement.

The server's output is copied to a log file by a thread that sets an event when
uvicorn says "Uvicorn running on" (or when the process exits), so a
test waits on the server's own word, never on sleep().
"""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

# uvicorn says this once its socket listens (after the lifespan startup).
READY_LINE = b"Uvicorn running on"
START_DEADLINE_S = 45.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_serve(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log: Path,
    ready_line: bytes = READY_LINE,
) -> subprocess.Popen[bytes]:
    """Starts `command` (a `quire serve`, or anything that prints
    `ready_line` once it serves) and returns once it is serving."""
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    ready = threading.Event()

    def copy_output() -> None:
        assert process.stdout is not None
        with log.open("ab") as out:
            for line in process.stdout:
                out.write(line)
                out.flush()
                if ready_line in line:
                    ready.set()
        ready.set()  # exited: let the waiter see it

    threading.Thread(target=copy_output, daemon=True).start()
    if not ready.wait(START_DEADLINE_S) or process.poll() is not None:
        process.kill()
        process.wait(timeout=15)
        tail = log.read_text(errors="replace")[-4000:]
        raise AssertionError(f"{command[:2]} did not start:\n{tail}")
    return process
