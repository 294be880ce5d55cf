"""An in-process httpx transport that streams ASGI responses (SSE included).

`httpx.ASGITransport` collects the whole body before returning, so a run's event stream would
arrive only when the run ends. This transport hands the response back at
`http.response.start` and streams body chunks as the app sends them, so tests on fake time see
heartbeats as they happen. Closing the response disconnects the app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from starlette.types import ASGIApp, Message

_END = b""  # queued after the last chunk (empty chunks are never queued)


class _BodyStream(httpx.AsyncByteStream):
    def __init__(
        self,
        chunks: asyncio.Queue[bytes | BaseException],
        task: asyncio.Task[None],
        disconnected: anyio.Event,
    ) -> None:
        self._chunks = chunks
        self._task = task
        self._disconnected = disconnected

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._chunks.get()
            if isinstance(chunk, BaseException):
                raise httpx.RemoteProtocolError(f"server dropped the connection: {chunk}")
            if chunk == _END:
                return
            yield chunk

    async def aclose(self) -> None:
        self._disconnected.set()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class StreamingASGITransport(httpx.AsyncBaseTransport):
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 50000),
            "server": (request.url.host, request.url.port or 80),
        }
        chunks: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        ended = False

        def finish(item: bytes | BaseException = _END) -> None:
            nonlocal ended
            if not ended:
                ended = True
                chunks.put_nowait(item)

        started = anyio.Event()
        disconnected = anyio.Event()
        head: dict[str, Any] = {}
        request_sent = False

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                head["status"] = message["status"]
                head["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                # Hand the response over with its first bytes: an app that aborts before any
                # body is a connection dropped before the response, as over a real socket.
                chunk = message.get("body", b"")
                if chunk and not ended:
                    chunks.put_nowait(chunk)
                if not message.get("more_body", False):
                    finish()
                if chunk or not message.get("more_body", False):
                    started.set()

        async def run_app() -> None:
            try:
                await self.app(scope, receive, send)
            except Exception as exc:  # the app dropped the connection (or crashed)
                head.setdefault("error", exc)
                finish(exc)
            finally:
                finish()
                started.set()

        task = asyncio.get_running_loop().create_task(run_app())
        await started.wait()
        if "status" not in head or ("error" in head and chunks.qsize() <= 1):
            await task
            error = head.get("error")
            raise httpx.RemoteProtocolError(
                f"server closed the connection without a response: {error}", request=request
            )
        return httpx.Response(
            status_code=head["status"],
            headers=head["headers"],
            stream=_BodyStream(chunks, task, disconnected),
            request=request,
        )
