"""Production servers for the benchmarks: gunicorn on a local port, stopped when the block ends.

Every benchmark that measures over HTTP (map weight, OGC items, status updates) starts its
servers here, so they all start, wait and stop the same way: the port is checked first, the
server counts as up when a given path answers 200, its log is kept only if it fails, and on
exit SIGTERM lets gunicorn's master stop its workers.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 120


class PortBusy(RuntimeError):
    """A port a server of the benchmark needs is taken."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortBusy(f"port {port} on 127.0.0.1 is busy: stop what listens there or "
                           "choose another port (--port)") from None


@dataclass(frozen=True)
class Running:
    """A started server: its base URL, port and gunicorn master process."""

    url: str
    port: int
    process: subprocess.Popen


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def gunicorn(app: str, *, ready_path: str, env: dict | None = None, port: int = 0,
             workers: int = 2, threads: int = 1, worker_class: str = "sync",
             config: str | None = None, python: Path | None = None, cwd: Path = ROOT,
             name: str = "the app") -> Iterator[Running]:
    """Serve `app` (``module:callable``) under `python`'s gunicorn until the block ends.

    `port` 0 picks a free one. With `config` (e.g. ``python:renovation.gunicorn_conf``) the
    worker class comes from it; `workers` and `threads` are always passed.
    """
    port = port or free_port()
    check_port_free(port)
    command = [str(python or sys.executable), "-m", "gunicorn", app,
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--threads", str(threads), "--log-level", "warning", "--timeout", "120"]
    command += ["--config", config] if config else ["--worker-class", worker_class]
    log_file = tempfile.TemporaryFile()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                               stdout=log_file, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(port, ready_path):
            if process.poll() is not None:
                log_file.seek(0)
                raise RuntimeError(f"{name} did not start (exit {process.returncode}):\n"
                                   + log_file.read().decode(errors="replace")[-3000:])
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer on port {port} in "
                                   f"{STARTUP_SECONDS} s")
            time.sleep(0.2)
        print(f"[servers] {name} is up on port {port} ({workers} workers × {threads} threads)",
              file=sys.stderr, flush=True)
        yield Running(f"http://127.0.0.1:{port}", port, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log_file.close()
