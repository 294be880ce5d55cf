"""The fake's HTTP face: a Starlette app for the v1 paths plus `/_fake/*` inspection.

`FakeCursor` is the library entry point. Its `app` serves both in-process
(`httpx.ASGITransport(app=fake.app)`, clock = the event loop's time) and over loopback
(`serve_fake_cursor`), because every state change is derived from the injected clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import random
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from orchestrator.clock import utcnow
from orchestrator.fakecursor.agent_git import AgentGit, git_report
from orchestrator.fakecursor.api_error import AgentCapRefused, ApiError
from orchestrator.fakecursor.routes import build_routes
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.state import Simulation
from orchestrator.fakecursor.traffic import RequestLog, RequestRecord, run_stats

ADMIN_PREFIX = "/_fake/"


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app to drop a connection: uvicorn then closes the socket mid-response;
    in-process (`httpx.ASGITransport`) the client sees this `httpx.RemoteProtocolError`."""


class FakeCursor:
    """A simulated Cursor account plus the ASGI app that serves it.

    `clock` returns seconds (monotonic or the event loop's fake time); it is first read on the
    first request, so a fixture may build the fake outside the event loop.

    Agents on a local-path or `file://` repo do real git (agent_git.py) in a workspace the fake
    owns: call `close()` (or use it as a context manager) to remove it.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        api_key: str = "test-key",
        clock: Callable[[], float] = time.monotonic,
        time_scale: float | None = None,
    ) -> None:
        self._api_key = api_key
        self._clock = clock
        self.scenario: Scenario = scenario or Scenario()
        self.git = AgentGit()
        self.reset(scenario or Scenario(), time_scale)
        self.app = _FaultsAndAuth(self, _routes(self))

    def __repr__(self) -> str:  # never shows the key
        return f"FakeCursor(time_scale={self.time_scale}, agents={len(self.sim.agents)})"

    def reset(self, scenario: Scenario | None = None, time_scale: float | None = None) -> None:
        """Forget every agent, run and request; restart the clocks at the next request."""
        self.scenario = scenario or self.scenario
        self.time_scale = time_scale if time_scale is not None else self.scenario.time_scale
        self._t0: float | None = None
        self._changed: anyio.Event | None = None
        self.epoch = utcnow()
        self.sim = Simulation(self.scenario, self.epoch)
        self.log = RequestLog()
        self.fault_rng = random.Random(self.scenario.seed)
        self.git.close()

    def close(self) -> None:
        """Remove the agents' git workspace (scratch clones are already gone after each run)."""
        self.git.close()

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def wait_for_change(self, timeout_s: float) -> None:
        """Sleep up to `timeout_s` real seconds, waking early when a run is cancelled."""
        if self._changed is None:
            self._changed = anyio.Event()
        with anyio.move_on_after(timeout_s):
            await self._changed.wait()

    def notify_change(self) -> None:
        """Wake streams waiting on silent runs (a cancel or delete ends them)."""
        if self._changed is not None:
            self._changed.set()
        self._changed = None

    def clock_s(self) -> float:
        """Server clock seconds since the fake started (unscaled)."""
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def sim_s(self) -> float:
        """Simulated seconds since start: what run scripts are written in."""
        return self.clock_s() * self.time_scale

    def now_s(self) -> float:
        """`sim_s()` for a request that looks at runs: first does the git work of every run on a
        local repo that is FINISHED by then, so no response shows FINISHED before the push.
        Callers render at this same `t_s` (git takes real time, simulated time may move on)."""
        t_s = self.sim_s()
        self.git.settle(self.sim, t_s)
        return t_s

    def git_report(self) -> dict[str, Any]:
        """Per local-repo agent: startingRef as sent, branch, and each run's git outcome."""
        return git_report(self.sim, self.now_s(), self.git.workspace)

    def key_matches(self, authorization: str | None) -> bool:
        key = _key_from_header(authorization)
        return key is not None and hmac.compare_digest(key.encode(), self._api_key.encode())

    def stats(self) -> dict[str, Any]:
        """Counters for `/_fake/stats`. Agents hold a slot of the active-agent cap from creation
        until archived or deleted: `max_active_agents` is their peak, `active_agents_now` their
        count now; `max_concurrent_active` counts runs (CREATING or RUNNING) instead."""
        t_s = self.sim_s()
        runs = list(self.sim.runs.values())
        cap = self.scenario.active_agent_cap
        return {
            "sim_time_s": t_s,
            "time_scale": self.time_scale,
            **self.log.summary(),
            "launches_per_fu": dict(self.sim.launches),
            "cancels_per_fu": dict(self.sim.cancels),
            "create_errors_per_fu": dict(self.sim.create_errors),
            "agents_total": len(self.sim.agents),
            "active_agent_cap": cap.limit if cap is not None else None,
            "max_active_agents": self.sim.max_active_agents,
            "active_agents_now": self.sim.active_agents(),
            "cap_refusals": sum(self.sim.cap_refusals.values()),
            "cap_refusals_per_fu": dict(self.sim.cap_refusals),
            **run_stats(runs, t_s),
        }

    def requests(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.log.records]


def _key_from_header(authorization: str | None) -> str | None:
    """The API key from `Bearer <key>` or Basic with the key as username."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            user, _, _password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


class _FaultsAndAuth:
    """Outer ASGI layer: records each API request, then injects latency, 401, drops, 429, 5xx."""

    def __init__(self, fake: FakeCursor, inner: Starlette) -> None:
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


def _routes(fake: FakeCursor) -> Starlette:
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
