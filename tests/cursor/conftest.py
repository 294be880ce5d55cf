"""Shared helpers: a respx router as the client's transport, a fake clock, spec-shaped bodies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.core.backoff import BackoffPolicy

ROOT = "https://api.test"
API_KEY = "sk-test-SECRET-0123456789"
AGENT_ID = "bc-11111111-2222-3333-4444-555555555555"
RUN_ID = "run-00000000-0000-0000-0000-000000000001"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
POLICY = BackoffPolicy(
    max_attempts=4, initial_delay_s=1.0, multiplier=2.0, max_delay_s=8.0, max_total_s=60.0
)


class FakeClock:
    """monotonic() advances only when the client sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.MockRouter(base_url=ROOT, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(
    router: respx.MockRouter,
    clock: FakeClock,
    *,
    base_url: str = ROOT + "/v1",
    auth_scheme: str = "basic",
    policy: BackoffPolicy = POLICY,
) -> CursorClient:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(router.async_handler),
        timeout=httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0),
    )
    return CursorClient(
        http,
        base_url=base_url,
        api_key=API_KEY,
        auth_scheme="bearer" if auth_scheme == "bearer" else "basic",
        backoff=policy,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        rand=lambda: 1.0,
        now=lambda: NOW,
    )


@pytest.fixture
def client(router: respx.MockRouter, clock: FakeClock) -> CursorClient:
    return make_client(router, clock)


def agent_json(agent_id: str = AGENT_ID, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": agent_id,
        "name": "FU-101 attempt 1",
        "status": "ACTIVE",
        "env": {"type": "cloud"},
        "url": f"https://cursor.com/agents/{agent_id}",
        "createdAt": "2026-01-02T03:00:00Z",
        "updatedAt": "2026-01-02T03:00:00Z",
        "latestRunId": RUN_ID,
        "repos": [{"url": "https://github.com/org/repo", "startingRef": "release/v1"}],
        "autoCreatePR": True,
    }
    body.update(extra)
    return body


def run_json(status: str = "RUNNING", run_id: str = RUN_ID, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": run_id,
        "agentId": AGENT_ID,
        "status": status,
        "createdAt": "2026-01-02T03:00:00Z",
        "updatedAt": "2026-01-02T03:00:00Z",
    }
    body.update(extra)
    return body


def error_json(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
