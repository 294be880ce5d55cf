"""The HTTP clients SSE streams use: apart from the request pool, in shards, with a cap.

A stream holds its connection for the whole run. In one pool with the requests, thousands of
them make every request slow: httpcore walks every connection of a pool (and every queued
request) each time a request starts or ends. So streams get their own clients, each a shard of
at most `shard_size` connections, opened as needed; a stream takes the least busy shard. At most
`max_streams` are open at once (what the open-file limit allows, see the daemon): beyond that
`slot` yields None and the caller polls instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx

ClientFactory = Callable[[int], httpx.AsyncClient]
"""`factory(max_connections)`: a new client for one shard."""


class StreamClients:
    """Shards of stream connections; `slot()` lends one for the length of a stream."""

    def __init__(self, factory: ClientFactory, *, max_streams: int, shard_size: int = 64) -> None:
        if max_streams < 0 or shard_size < 1:
            raise ValueError("max_streams must be >= 0 and shard_size >= 1")
        self.max_streams = max_streams
        self._factory = factory
        self._shard_size = shard_size
        self._shards: list[httpx.AsyncClient] = []
        self._open: list[int] = []  # streams open per shard
        self.refused = 0  # streams asked for while every slot was taken

    @property
    def open_streams(self) -> int:
        return sum(self._open)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[httpx.AsyncClient | None]:
        """The client to open one stream on, or None when `max_streams` are open."""
        index = self._take()
        if index is None:
            self.refused += 1
            yield None
            return
        try:
            yield self._shards[index]
        finally:
            self._open[index] -= 1

    def _take(self) -> int | None:
        if self.open_streams >= self.max_streams:
            return None
        best: int | None = None
        for index, count in enumerate(self._open):
            if count < self._shard_size and (best is None or count < self._open[best]):
                best = index
        if best is None:
            self._shards.append(self._factory(self._shard_size))
            self._open.append(0)
            best = len(self._shards) - 1
        self._open[best] += 1
        return best

    async def aclose(self) -> None:
        shards, self._shards, self._open = self._shards, [], []
        for shard in shards:
            await shard.aclose()

    async def __aenter__(self) -> StreamClients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
