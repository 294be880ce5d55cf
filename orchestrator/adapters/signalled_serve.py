"""Serving with uvicorn until SIGTERM/SIGINT, for orchd's own servers (the dashboard and the
fake Cursor server): the first signal asks uvicorn to stop gracefully, a second forces it."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import anyio
import uvicorn


async def serve_until_signalled(
    server: uvicorn.Server, serve: Callable[[], Awaitable[None]]
) -> None:
    """Run `serve()` (which runs `server`) until it returns or a signal stops `server`."""
    async with anyio.create_task_group() as tg:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:

            async def stop_on_signals() -> None:
                async for _ in signals:
                    if server.should_exit:
                        server.force_exit = True
                    server.should_exit = True

            tg.start_soon(stop_on_signals)
            await serve()
            tg.cancel_scope.cancel()
