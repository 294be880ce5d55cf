"""Retries: what is retried, how long the client waits, when it gives up, and create adoption."""

from __future__ import annotations

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from orchestrator.adapters.cursor import errors as E
from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import CreateAgentRequest, CreateRunRequest, Prompt
from orchestrator.core.backoff import BackoffPolicy
from tests.cursor.conftest import (
    AGENT_ID,
    NOW,
    POLICY,
    RUN_ID,
    FakeClock,
    agent_json,
    error_json,
    make_client,
    run_json,
)

pytestmark = pytest.mark.asyncio

ME = {"apiKeyName": "ci", "createdAt": "2026-01-01T00:00:00Z"}


def _rate_limited(**headers: str) -> httpx.Response:
    return httpx.Response(429, json=error_json("rate_limit_exceeded", "Slow down"), headers=headers)


@pytest.mark.parametrize(
    ("headers", "expected_wait_s"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "Fri, 02 Jan 2026 03:04:35 GMT"}, 30.0),  # NOW + 30 s
        ({"X-RateLimit-Reset": "12", "X-RateLimit-Remaining": "0"}, 12.0),
        ({}, 1.0),  # no hint: the policy's first backoff step
    ],
)
async def test_429_waits_as_the_server_asks_then_succeeds(
    client: CursorClient,
    router: respx.MockRouter,
    clock: FakeClock,
    headers: dict[str, str],
    expected_wait_s: float,
) -> None:
    route = router.get("/v1/me").mock(
        side_effect=[_rate_limited(**headers), httpx.Response(200, json=ME)]
    )
    with capture_logs() as logs:
        me = await client.me()
    assert me.api_key_name == "ci"
    assert route.call_count == 2
    assert clock.sleeps == [expected_wait_s]
    retry_logs = [entry for entry in logs if entry["event"] == "cursor.request_retry"]
    assert retry_logs == [
        {
            "event": "cursor.request_retry",
            "log_level": "info",
            "method": "GET",
            "path": "/v1/me",
            "status": 429,
            "code": "rate_limit_exceeded",
            "delay_s": expected_wait_s,
            "attempt": 1,
        }
    ]


@pytest.mark.parametrize(
    ("status", "code"), [(500, "internal_error"), (502, "upstream_error"), (503, None)]
)
async def test_server_errors_are_retried_with_exponential_backoff(
    client: CursorClient, router: respx.MockRouter, clock: FakeClock, status: int, code: str | None
) -> None:
    failure = (
        httpx.Response(status, json=error_json(code, "boom"))
        if code
        else httpx.Response(status, text="<html>Service Unavailable</html>")
    )
    route = router.get(f"/v1/agents/{AGENT_ID}").mock(
        side_effect=[failure, failure, httpx.Response(200, json=agent_json())]
    )
    agent = await client.get_agent(AGENT_ID)
    assert agent.id == AGENT_ID
    assert route.call_count == 3
    assert clock.sleeps == [1.0, 2.0]


async def test_gives_up_after_max_attempts_with_the_last_error(
    client: CursorClient, router: respx.MockRouter, clock: FakeClock
) -> None:
    route = router.get("/v1/me").respond(500, json=error_json("internal_error", "down"))
    with capture_logs() as logs, pytest.raises(E.ServerError, match="down") as info:
        await client.me()
    assert route.call_count == POLICY.max_attempts
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert info.value.attempt == POLICY.max_attempts
    assert [e["event"] for e in logs][-1] == "cursor.request_gave_up"


async def test_gives_up_when_the_total_time_budget_would_be_exceeded(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    client = make_client(router, clock, policy=BackoffPolicy(max_attempts=50, max_total_s=10.0))
    route = router.get("/v1/me").mock(return_value=_rate_limited(**{"Retry-After": "6"}))
    with pytest.raises(E.RateLimited):
        await client.me()
    assert clock.sleeps == [6.0]
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (400, "validation_error", E.ValidationError),
        (401, "unauthorized", E.Unauthorized),
        (403, "plan_required", E.PlanRequired),
        (403, "repository_access", E.RepositoryAccess),
        (404, "agent_not_found", E.NotFound),
        (409, "agent_archived", E.AgentArchived),
        (429, "usage_limit_exceeded", E.UsageLimitExceeded),
        (501, "not_implemented", E.NotImplementedByServer),
    ],
)
async def test_client_errors_fail_at_once_with_the_server_message(
    client: CursorClient,
    router: respx.MockRouter,
    clock: FakeClock,
    status: int,
    code: str,
    error_class: type[E.CursorError],
) -> None:
    route = router.get(f"/v1/agents/{AGENT_ID}").respond(
        status, json=error_json(code, f"server says {code}")
    )
    with pytest.raises(error_class) as info:
        await client.get_agent(AGENT_ID)
    assert (info.value.code, info.value.status) == (code, status)
    assert f"server says {code}" in str(info.value)
    assert route.call_count == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("connection refused"), httpx.ReadTimeout("read timed out")],
)
async def test_transport_failures_are_retried(
    client: CursorClient, router: respx.MockRouter, clock: FakeClock, failure: Exception
) -> None:
    route = router.get("/v1/me").mock(side_effect=[failure, httpx.Response(200, json=ME)])
    assert (await client.me()).api_key_name == "ci"
    assert route.call_count == 2
    assert clock.sleeps == [1.0]


async def test_persistent_connect_errors_end_in_transport_error(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get("/v1/me").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(E.TransportError, match="ConnectError: connection refused") as info:
        await client.me()
    assert info.value.retryable
    assert info.value.status is None


def _create() -> CreateAgentRequest:
    return CreateAgentRequest(prompt=Prompt(text="Implement FU-101"), agent_id=AGENT_ID)


def _conflict() -> httpx.Response:
    return httpx.Response(409, json=error_json("agent_id_conflict", "agentId already exists"))


async def test_lost_create_response_is_adopted_not_launched_twice(
    client: CursorClient, router: respx.MockRouter
) -> None:
    create = router.post("/v1/agents").mock(
        side_effect=[httpx.ReadTimeout("no answer"), _conflict()]
    )
    router.get(f"/v1/agents/{AGENT_ID}").respond(200, json=agent_json())
    router.get(f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}").respond(200, json=run_json("RUNNING"))
    with capture_logs() as logs:
        agent, run = await client.create_agent(_create(), adopt_existing=False)
    assert (agent.id, run.id) == (AGENT_ID, RUN_ID)
    assert create.call_count == 2
    bodies = {call.request.content for call in create.calls}
    assert len(bodies) == 1, "the retry must carry the same agentId"
    adopted = [e for e in logs if e["event"] == "cursor.agent_adopted"]
    assert adopted == [
        {
            "event": "cursor.agent_adopted",
            "log_level": "info",
            "agent_id": AGENT_ID,
            "run_id": RUN_ID,
            "attempt": 2,
        }
    ]


async def test_first_try_conflict_is_adopted_by_default_after_a_restart(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.post("/v1/agents").mock(return_value=_conflict())
    router.get(f"/v1/agents/{AGENT_ID}").respond(200, json=agent_json(latestRunId=None))
    router.get(f"/v1/agents/{AGENT_ID}/runs").respond(
        200, json={"items": [run_json("FINISHED", run_id="run-9")]}
    )
    agent, run = await client.create_agent(_create())
    assert (agent.id, run.id) == (AGENT_ID, "run-9")


async def test_first_try_conflict_raises_when_adoption_is_off(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.post("/v1/agents").mock(return_value=_conflict())
    with pytest.raises(E.AgentIdConflict, match="already exists"):
        await client.create_agent(_create(), adopt_existing=False)


async def test_create_without_agent_id_is_not_retried_after_ambiguous_failure(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.post("/v1/agents").mock(side_effect=httpx.ReadTimeout("no answer"))
    with pytest.raises(E.TransportError):
        await client.create_agent(CreateAgentRequest(prompt=Prompt(text="x")))
    assert route.call_count == 1, "a blind retry could launch a second agent"


async def test_create_without_agent_id_still_retries_429(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.post("/v1/agents").mock(
        side_effect=[
            _rate_limited(**{"Retry-After": "1"}),
            httpx.Response(201, json={"agent": agent_json(), "run": run_json("CREATING")}),
        ]
    )
    agent, _ = await client.create_agent(CreateAgentRequest(prompt=Prompt(text="x")))
    assert agent.id == AGENT_ID
    assert route.call_count == 2


async def test_retried_follow_up_answered_busy_returns_the_run_it_started(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.post(f"/v1/agents/{AGENT_ID}/runs").mock(
        side_effect=[
            httpx.ReadTimeout("no answer"),
            httpx.Response(409, json=error_json("agent_busy", "active run")),
        ]
    )
    router.get(f"/v1/agents/{AGENT_ID}").respond(200, json=agent_json(latestRunId="run-2"))
    router.get(f"/v1/agents/{AGENT_ID}/runs/run-2").respond(
        200, json=run_json("RUNNING", run_id="run-2", createdAt=NOW.isoformat())
    )
    run = await client.create_run(AGENT_ID, CreateRunRequest(prompt=Prompt(text="again")))
    assert run.id == "run-2"


@pytest.mark.asyncio
async def test_retried_follow_up_answered_busy_by_an_older_run_is_not_adopted(
    client: CursorClient, router: respx.MockRouter
) -> None:
    """The agent was busy with a run from before our request: our follow-up never started."""
    router.post(f"/v1/agents/{AGENT_ID}/runs").mock(
        side_effect=[
            httpx.Response(500, json=error_json("internal_error", "oops")),
            httpx.Response(409, json=error_json("agent_busy", "active run")),
        ]
    )
    router.get(f"/v1/agents/{AGENT_ID}").respond(200, json=agent_json(latestRunId="run-1"))
    router.get(f"/v1/agents/{AGENT_ID}/runs/run-1").respond(
        200,
        json=run_json("RUNNING", run_id="run-1"),  # created 4 minutes before we asked
    )
    with pytest.raises(E.AgentBusy):
        await client.create_run(AGENT_ID, CreateRunRequest(prompt=Prompt(text="again")))
