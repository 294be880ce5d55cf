"""The fake's HTTP face: a Starlette app for the v1 paths plus `/_fake/*` inspection.

`FakeCursor` is the library entry point: the account (account.py) plus its ASGI `app`, which
serves both in-process (`httpx.ASGITransport(app=fake.app)`, clock = the event loop's time) and
over loopback (`serve_fake_cursor`), because every state change is derived from the injected
clock. This module owns the outer layer (auth, scripted faults) and the error handlers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import anyio
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from orchestrator.fakecursor.account import FakeAccount
from orchestrator.fakecursor.api_error import AgentCapRefused, ApiError
from orchestrator.fakecursor.routes import build_routes
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.traffic import RequestRecord

ADMIN_PREFIX = "/_fake/"


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app to drop a connection: uvicorn then closes the socket mid-response;
    in-process (`httpx.ASGITransport`) the client sees this `httpx.RemoteProtocolError`."""


class FakeCursor(FakeAccount):
    """A simulated Cursor account (`FakeAccount`: its clock, its git workspace to `close()`)
    plus the ASGI app that serves it."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        api_key: str = "test-key",
        clock: Callable[[], float] = time.monotonic,
        time_scale: float | None = None,
    ) -> None:
        super().__init__(scenario, api_key=api_key, clock=clock, time_scale=time_scale)
        self.app = _FaultsAndAuth(self, _routes(self))


class _FaultsAndAuth:
    """Outer ASGI layer: records each API request, then injects latency, 401, drops, 429, 5xx."""

    def __init__(self, fake: FakeAccount, inner: Starlette) -> None:
        self.fake = fake
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.inner(scope, receive, send)
            return
        fake = self.fake
        record = fake.log.start(scope["method"], scope["path"], fake.clock_s())
        scope["fake.record"] = record

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, recording_send, send, record)
        finally:
            record.duration_s = fake.clock_s() - record.started_s

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, raw_send: Send, record: RequestRecord
    ) -> None:
        fake, scenario = self.fake, self.fake.scenario
        if scenario.latency_s:
            await anyio.sleep(scenario.latency_s)
        headers = dict(
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
        )
        if not fake.key_matches(headers.get("authorization")):
            error = ApiError(401, "unauthorized", "Invalid or missing API key.")
            await error_response(error)(scope, receive, send)
            return
        method, path, n, t_s = scope["method"], scope["path"], record.seq, record.started_s
        rng = fake.fault_rng
        drop = scenario.drops is not None and scenario.drops.hits(n, t_s, method, path, rng)
        limited = scenario.rate_limit is not None and scenario.rate_limit.hits(
            n, t_s, method, path, rng
        )
        failed = scenario.server_errors is not None and scenario.server_errors.hits(
            n, t_s, method, path, rng
        )
        if drop and scenario.drops is not None and scenario.drops.after_handling:

            async def swallow(message: Message) -> None:
                del message

            await self.inner(scope, receive, swallow)
            await _drop(raw_send, record)
        elif drop:
            await _drop(raw_send, record)
        elif limited and scenario.rate_limit is not None:
            record.fault = "rate_limit"
            rule = scenario.rate_limit
            reset_epoch_s = fake.epoch.timestamp() + t_s + rule.retry_after_s
            error = ApiError(
                429,
                rule.code,
                "Rate limit exceeded; retry later.",
                {
                    "Retry-After": rule.retry_after_header,
                    "X-RateLimit-Limit": str(rule.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(math.ceil(reset_epoch_s)),
                },
            )
            await error_response(error)(scope, receive, send)
        elif failed and scenario.server_errors is not None:
            record.fault = "server_error"
            failure = scenario.server_errors
            error = ApiError(failure.status, failure.code, "Scripted server error.")
            await error_response(error)(scope, receive, send)
        else:
            await self.inner(scope, receive, send)


async def _drop(raw_send: Send, record: RequestRecord) -> None:
    record.fault = "drop"
    record.status = None
    await raw_send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    raise DroppedConnection("fake cursor dropped the connection (scripted)")


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _routes(fake: FakeAccount) -> Starlette:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        record: RequestRecord | None = request.scope.get("fake.record")
        if record is not None and isinstance(exc, AgentCapRefused):
            record.fault = "agent_cap"
            record.fu_id = record.fu_id or exc.fu_id
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)))

    return Starlette(
        routes=build_routes(fake),
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error},
    )
