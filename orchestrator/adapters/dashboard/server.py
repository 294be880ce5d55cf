"""Serving the dashboard with uvicorn on a socket we bind ourselves.

Binding first turns "address in use" into our one-line error instead of uvicorn's log and
exit, and lets `--port 0` report the port it got. SIGTERM/SIGINT stop it gracefully (open SSE
streams are cut after a second); a second signal forces the exit.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from orchestrator.adapters.signalled_serve import serve_until_signalled

_GRACEFUL_SHUTDOWN_S = 1


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and `localhost` count; any other name may be public."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (raises OSError with the system's reason)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (ours stops it), announcing when it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


async def serve(app: ASGIApp, sock: socket.socket, on_ready: Callable[[], None]) -> None:
    """Serve `app` on `sock` until SIGTERM/SIGINT."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )
    server = _Server(config, on_ready)
    await serve_until_signalled(server, lambda: server.serve(sockets=[sock]))
