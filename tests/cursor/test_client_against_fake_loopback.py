"""The real CursorClient against the real fake server over loopback HTTP (issue 3's "Done when").

Each test serves `FakeCursor` with uvicorn on 127.0.0.1 and drives create → get_run → cancel for
several agents through scripted faults. Faults are placed by request number, and calls run one
after another, so every retry is predictable and counted three ways: the fake's own counters,
the client's `cursor.request_retry` log events, and the delays the client chose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import CreateAgentRequest, Prompt, RepoConfig, RunStatus
from orchestrator.adapters.cursor.settings import CursorSettings, build_http_client
from orchestrator.core.agent_ids import agent_id_for
from orchestrator.core.backoff import BackoffPolicy
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import Scenario
from orchestrator.fakecursor.server import serve_fake_cursor

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

KEY = "sk-loopback-SECRET-42"
RELEASE = "v9.9.9"
FUS = ("FU-101", "FU-102", "FU-103", "FU-104")
# rand() == 1.0 below removes the jitter: the n-th retry waits exactly 0.01 * 2**(n-1) s.
POLICY = BackoffPolicy(
    max_attempts=6, initial_delay_s=0.01, multiplier=2.0, max_delay_s=0.05, max_total_s=10.0
)
# Runs stay RUNNING for 10 real minutes, so every cancel finds a live run.
RUNS = {"defaults": {"creating_s": 0, "duration_s": 600}}


@dataclass
class Sleeps:
    """The client's sleep: records each chosen delay; waits for real, at most 20 ms."""

    delays_s: list[float] = field(default_factory=list)

    async def __call__(self, delay_s: float) -> None:
        self.delays_s.append(delay_s)
        await anyio.sleep(min(delay_s, 0.02))


@asynccontextmanager
async def loopback(
    scenario: dict[str, Any],
) -> AsyncIterator[tuple[FakeCursor, CursorClient, Sleeps]]:
    fake = FakeCursor(Scenario.model_validate({**RUNS, **scenario}), api_key=KEY)
    sleeps = Sleeps()
    async with serve_fake_cursor(fake) as base_url:
        settings = CursorSettings(
            base_url=base_url, api_key=SecretStr(KEY), connect_timeout_s=2.0, read_timeout_s=5.0
        )
        async with build_http_client(settings) as http:
            client = CursorClient(
                http,
                base_url=settings.base_url,
                api_key=KEY,
                backoff=POLICY,
                sleep=sleeps,
                rand=lambda: 1.0,
            )
            yield fake, client, sleeps


def _request(fu_id: str) -> CreateAgentRequest:
    return CreateAgentRequest(
        prompt=Prompt(text=f"Implement {fu_id} of release {RELEASE} per its spec."),
        name=f"{RELEASE} {fu_id} a1",
        agent_id=agent_id_for(RELEASE, fu_id, 1),
        repos=[RepoConfig(url="https://github.com/acme/neotoma", starting_ref="main")],
        auto_create_pr=True,
    )


async def _create_get_cancel(client: CursorClient, fu_id: str) -> None:
    """The engine's life of one agent, asserting what the caller is promised at each step."""
    agent, run = await client.create_agent(_request(fu_id))
    assert agent.id == agent_id_for(RELEASE, fu_id, 1)
    polled = await client.get_run(agent.id, run.id)
    assert polled.id == run.id
    assert polled.status in {RunStatus.CREATING, RunStatus.RUNNING}
    assert await client.cancel_run(agent.id, run.id) is True


def _retries(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "cursor.request_retry"]


def _call(method: str, path: str) -> str:
    """Which client call a logged request belongs to."""
    if path == "/v1/agents":
        return "create"
    if path.endswith("/cancel"):
        return "cancel"
    return "get_run" if method == "GET" and "/runs/" in path else f"{method} {path}"


def _each_created_once_and_cancelled(fake: FakeCursor) -> None:
    stats = fake.stats()
    assert stats["launches_per_fu"] == dict.fromkeys(FUS, 1)
    assert stats["agents_total"] == len(FUS)
    assert stats["cancels_per_fu"] == dict.fromkeys(FUS, 1)


async def test_429_storm_every_call_retried_once_honouring_retry_after_and_nothing_lost() -> None:
    # Every even-numbered request is refused: each call after the very first meets one 429.
    storm = {"rate_limit": {"every_n_requests": 2, "retry_after_s": 1}}
    async with loopback(storm) as (fake, client, sleeps):
        with capture_logs() as logs:
            for fu_id in FUS:
                await _create_get_cancel(client, fu_id)
    calls = 3 * len(FUS)
    stats = fake.stats()
    assert stats["rate_limited"] == calls - 1
    assert stats["requests_total"] == 2 * calls - 1
    assert stats["server_errors_injected"] == 0
    retries = _retries(logs)
    assert len(retries) == calls - 1
    assert {(r["status"], r["code"], r["attempt"]) for r in retries} == {
        (429, "rate_limit_exceeded", 1)
    }
    assert sum(1 for r in retries if r["method"] == "POST" and r["path"] == "/v1/agents") == 3
    # The fake's Retry-After (1 s) is a floor the client never shortens.
    assert sleeps.delays_s == [1.0] * (calls - 1)
    _each_created_once_and_cancelled(fake)
    assert KEY not in repr(logs)


async def test_5xx_bursts_are_retried_with_backoff_and_each_agent_created_once() -> None:
    # Request numbers: 1-2 fail, 3 creates A, 4 get_run A, 5 cancel A, 6 creates B, 7-9 fail,
    # 10 get_run B, 11 fails, 12 cancel B, 13 fails, 14 creates C, then D goes through untouched.
    ranges = [[1, 2], [7, 9], [11, 11], [13, 13]]
    bursts = {"server_errors": {"request_ranges": ranges, "status": 500}}
    async with loopback(bursts) as (fake, client, sleeps):
        with capture_logs() as logs:
            for fu_id in FUS:
                await _create_get_cancel(client, fu_id)
    stats = fake.stats()
    assert stats["server_errors_injected"] == 7
    assert stats["rate_limited"] == 0
    assert stats["requests_total"] == 3 * len(FUS) + 7
    retries = _retries(logs)
    assert [(_call(r["method"], r["path"]), r["attempt"]) for r in retries] == [
        ("create", 1),
        ("create", 2),
        ("get_run", 1),
        ("get_run", 2),
        ("get_run", 3),
        ("cancel", 1),
        ("create", 1),
    ]
    assert {(r["status"], r["code"]) for r in retries} == {(500, "internal_error")}
    assert sleeps.delays_s == [0.01, 0.02, 0.01, 0.02, 0.04, 0.01, 0.01]
    _each_created_once_and_cancelled(fake)


async def test_create_whose_response_is_lost_is_adopted_via_409_not_launched_twice() -> None:
    # The fake creates the agent, then drops the connection before the client reads the answer.
    drop = {"drops": {"request_ranges": [[1, 1]], "after_handling": True, "methods": ["POST"]}}
    async with loopback(drop) as (fake, client, sleeps):
        with capture_logs() as logs:
            agent, run = await client.create_agent(_request("FU-101"))
            polled = await client.get_run(agent.id, run.id)
            cancelled = await client.cancel_run(agent.id, run.id)
    stats = fake.stats()
    assert agent.id == agent_id_for(RELEASE, "FU-101", 1)
    assert [r["run_id"] for r in stats["runs"]] == [run.id] == [polled.id]
    assert cancelled is True
    assert stats["dropped"] == 1
    assert stats["agents_total"] == 1
    assert stats["launches_per_fu"] == {"FU-101": 1}
    creates = [(r["method"], r["status"]) for r in fake.requests() if r["path"] == "/v1/agents"]
    assert creates == [("POST", None), ("POST", 409)]
    assert [(r["code"], r["attempt"]) for r in _retries(logs)] == [("transport_error", 1)]
    adopted = [e for e in logs if e["event"] == "cursor.agent_adopted"]
    assert [(e["agent_id"], e["run_id"], e["attempt"]) for e in adopted] == [(agent.id, run.id, 2)]
    assert len(sleeps.delays_s) == 1
