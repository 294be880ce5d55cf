"""Serving the fake over real loopback HTTP with uvicorn, in a task or as a process.

Signals are data here: `serve_fake_cursor` never touches signal handlers (tests own them);
`run_fake_cursor` turns SIGTERM/SIGINT into a graceful stop and a second one into a forced one.
The listening socket is bound here, before uvicorn starts, so a busy port is one InputError
line instead of uvicorn's log line and `sys.exit` from inside the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import uvicorn

from orchestrator.adapters.signalled_serve import serve_until_signalled
from orchestrator.errors import InputError
from orchestrator.fakecursor.app import DroppedConnection, FakeCursor

_GRACEFUL_SHUTDOWN_S = 1.0  # open SSE streams of hung runs would otherwise block exit forever


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling, reporting readiness through an event."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def bound_port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])


class _HideScriptedDrops(logging.Filter):
    """uvicorn logs every app exception; a scripted drop is intended, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; a port in use or a host that cannot be bound is an
    InputError (exit 2) saying what to do."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        # create_server's message repeats the address: keep the reason only
        code = None if isinstance(exc, socket.gaierror) else exc.errno
        reason = os.strerror(code) if code else (exc.strerror or str(exc))
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} on {host} is in use ({reason}): stop what listens there, or "
                "pick another port (--port 0 picks a free one)"
            ) from None
        raise InputError(f"cannot listen on {host} port {port} ({reason})") from None
    sock.set_inheritable(False)
    # Accepted sockets inherit it. asyncio sets it only on sockets made with IPPROTO_TCP, and
    # create_server's are not: without it every response (headers, then body) waits ~40 ms
    # for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _server(fake: FakeCursor, host: str, port: int) -> _EmbeddedServer:
    logging.getLogger("uvicorn.error").addFilter(_HideScriptedDrops())
    config = uvicorn.Config(
        fake.app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        timeout_graceful_shutdown=int(_GRACEFUL_SHUTDOWN_S),
    )
    return _EmbeddedServer(config)


async def _serve(server: _EmbeddedServer, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits the process when it cannot start
        raise OSError(f"fake cursor could not start: exit {exc.code}") from None
    finally:
        sock.close()
        server.ready.set()  # wake a waiter even when startup failed


@contextlib.asynccontextmanager
async def serve_fake_cursor(
    fake: FakeCursor, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `fake` on loopback for the block; yields the base URL ending in `/v1`."""
    server = _server(fake, host, port)
    sock = listen_socket(host, port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(_serve, server, sock)
        await server.ready.wait()
        if not server.started:
            raise OSError(f"fake cursor could not listen on {host}:{port}")
        try:
            yield f"http://{host}:{server.bound_port()}/v1"
        finally:
            server.should_exit = True


async def run_fake_cursor(
    fake: FakeCursor, host: str, port: int, on_ready: Callable[[str], None]
) -> None:
    """Serve until SIGTERM/SIGINT (a second one forces exit); `on_ready` gets the base URL.
    The fake is closed on the way out (its agents' git workspace removed). A port it cannot
    listen on is InputError, before anything is served."""
    server = _server(fake, host, port)
    try:
        sock = listen_socket(host, port)
    except InputError:
        fake.close()
        raise
    try:
        await serve_until_signalled(server, lambda: _serve_reporting(server, sock, on_ready, host))
    finally:
        fake.close()


async def _serve_reporting(
    server: _EmbeddedServer, sock: socket.socket, on_ready: Callable[[str], None], host: str
) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(_serve, server, sock)
        await server.ready.wait()
        if server.started:
            on_ready(f"http://{host}:{server.bound_port()}/v1")
