"""Blocking work (git, fsync) off the event loop, on the loop's own executor.

The loop's executor rather than anyio's worker threads: looptime, the fake clock of the engine's
tests, waits for executor futures before it moves time, so a status write or a git command
takes no simulated time and timing assertions stay exact. orchd runs on asyncio only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def in_thread(func: Callable[[], T]) -> T:
    """Run `func` in a worker thread; a cancelled caller still waits for it to finish, so
    the work is never abandoned half-way (callers bound it: subprocess timeouts, fsync)."""
    future = asyncio.get_running_loop().run_in_executor(None, func)
    with anyio.CancelScope(shield=True):
        result = await future
    return result
