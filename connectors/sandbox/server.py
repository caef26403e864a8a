"""Serving the sandbox over real HTTP: uvicorn on a loopback port, in a background thread.

``serve`` is what end-to-end tests use: it returns the base URL (``http://127.0.0.1:PORT``) and
stops the server on exit. Over HTTP an injected timeout cannot be an exception in the caller, so
``serve`` switches the sandbox to ``timeout_mode="delay"``: the answer comes after
``timeout_delay`` seconds, past any sensible client timeout.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from connectors.sandbox.app import create_app, sandbox_of
from connectors.sandbox.config import SandboxConfig
from connectors.sandbox.sandbox import Sandbox

__all__ = ["serve"]


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


@contextmanager
def serve(target: Starlette | Sandbox | SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0,
          startup_timeout: float = 10.0) -> Iterator[str]:
    """Run the sandbox on ``host:port`` (0 = a free port) until the block exits; yields the base URL."""
    if isinstance(target, Starlette):
        app = target
    elif isinstance(target, Sandbox):
        app = create_app(sandbox=target)
    else:
        app = create_app(target)
    sandbox = sandbox_of(app)
    if sandbox.config.timeout_mode == "raise":
        sandbox.config = dataclasses.replace(sandbox.config, timeout_mode="delay")
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    bound_host, bound_port = sock.getsockname()[:2]
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
