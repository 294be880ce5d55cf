"""Each client method sends the spec's request and returns typed models."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import respx

from orchestrator.adapters.cursor import errors as E
from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.models import (
    CreateAgentRequest,
    CreateRunRequest,
    Prompt,
    RepoConfig,
    RunStatus,
)
from tests.cursor.conftest import (
    AGENT_ID,
    API_KEY,
    ROOT,
    RUN_ID,
    FakeClock,
    agent_json,
    error_json,
    make_client,
    run_json,
)

pytestmark = pytest.mark.asyncio


def _create_request() -> CreateAgentRequest:
    return CreateAgentRequest(
        prompt=Prompt(text="Implement FU-101"),
        name="FU-101 attempt 1",
        agent_id=AGENT_ID,
        repos=[RepoConfig(url="https://github.com/org/repo", starting_ref="release/v1")],
        auto_create_pr=True,
    )


async def test_create_agent_posts_spec_body_and_returns_agent_and_first_run(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.post("/v1/agents").respond(
        201, json={"agent": agent_json(), "run": run_json("CREATING")}
    )
    agent, run = await client.create_agent(_create_request())
    assert (agent.id, run.id, run.status) == (AGENT_ID, RUN_ID, RunStatus.CREATING)
    sent = route.calls.last.request
    assert json.loads(sent.content) == {
        "prompt": {"text": "Implement FU-101"},
        "name": "FU-101 attempt 1",
        "agentId": AGENT_ID,
        "repos": [{"url": "https://github.com/org/repo", "startingRef": "release/v1"}],
        "autoCreatePR": True,
    }
    assert sent.headers["Idempotency-Key"] == AGENT_ID
    assert sent.extensions["timeout"]["read"] > 60, "creates can take over 40 s to answer"


async def test_default_auth_is_basic_with_key_as_username(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.get("/v1/me").respond(
        200, json={"apiKeyName": "ci", "createdAt": "2026-01-01T00:00:00Z"}
    )
    me = await client.me()
    assert me.api_key_name == "ci"
    expected = base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert route.calls.last.request.headers["Authorization"] == f"Basic {expected}"


async def test_bearer_auth_sends_the_key_as_bearer_token(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    client = make_client(router, clock, auth_scheme="bearer")
    route = router.get("/v1/me").respond(
        200, json={"apiKeyName": "ci", "createdAt": "2026-01-01T00:00:00Z"}
    )
    await client.me()
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    "base_url", [ROOT, ROOT + "/", ROOT + "/v1", ROOT + "/v1/", ROOT + "/v1/v1"]
)
async def test_base_url_with_or_without_v1_never_doubles_the_prefix(
    router: respx.MockRouter, clock: FakeClock, base_url: str
) -> None:
    client = make_client(router, clock, base_url=base_url)
    route = router.get("/v1/models").respond(
        200, json={"items": [{"id": "composer-2", "displayName": "Composer 2"}]}
    )
    models = await client.models()
    assert [m.id for m in models] == ["composer-2"]
    assert route.calls.last.request.url.path == "/v1/models"


async def test_get_agent_tolerates_unknown_fields_and_idle_status(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get(f"/v1/agents/{AGENT_ID}").respond(
        200, json=agent_json(status="IDLE", brandNewField={"x": 1})
    )
    agent = await client.get_agent(AGENT_ID)
    assert agent.status == "IDLE"
    assert agent.latest_run_id == RUN_ID
    assert agent.auto_create_pr is True


async def test_get_run_exposes_terminal_result_branches_and_pr(
    client: CursorClient, router: respx.MockRouter
) -> None:
    git = {
        "branches": [
            {
                "repoUrl": "github.com/org/repo",
                "branch": "cursor/fu-101",
                "prUrl": "https://github.com/org/repo/pull/7",
            }
        ]
    }
    router.get(f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}").respond(
        200, json=run_json("FINISHED", durationMs=1234, result="Done.", git=git)
    )
    run = await client.get_run(AGENT_ID, RUN_ID)
    assert run.status.is_terminal
    assert (run.duration_ms, run.result) == (1234, "Done.")
    assert run.branches[0].branch == "cursor/fu-101"
    assert run.pr_url == "https://github.com/org/repo/pull/7"


async def test_list_runs_passes_limit_and_cursor(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.get(f"/v1/agents/{AGENT_ID}/runs").respond(
        200, json={"items": [run_json()], "nextCursor": "c2"}
    )
    page = await client.list_runs(AGENT_ID, limit=5, cursor="c1")
    assert page.next_cursor == "c2"
    assert dict(route.calls.last.request.url.params) == {"limit": "5", "cursor": "c1"}


async def test_list_agents_sends_filters(client: CursorClient, router: respx.MockRouter) -> None:
    route = router.get("/v1/agents").respond(200, json={"items": [agent_json()]})
    page = await client.list_agents(
        limit=100, include_archived=True, pr_url="https://github.com/org/repo/pull/7"
    )
    assert page.next_cursor is None
    assert dict(route.calls.last.request.url.params) == {
        "limit": "100",
        "includeArchived": "true",
        "prUrl": "https://github.com/org/repo/pull/7",
    }


async def test_list_limit_outside_spec_range_is_refused_before_sending(
    client: CursorClient,
) -> None:
    with pytest.raises(ValueError, match=r"1\.\.100"):
        await client.list_agents(limit=101)


async def test_iter_agents_follows_next_cursor_across_pages(
    client: CursorClient, router: respx.MockRouter
) -> None:
    second = "bc-99999999-2222-3333-4444-555555555555"
    router.get("/v1/agents", params={"cursor": "p2"}).respond(
        200, json={"items": [agent_json(second)]}
    )
    router.get("/v1/agents").respond(200, json={"items": [agent_json()], "nextCursor": "p2"})
    ids = [agent.id async for agent in client.iter_agents(limit=1)]
    assert ids == [AGENT_ID, second]


async def test_iter_agents_stops_on_a_repeated_cursor(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get("/v1/agents").respond(200, json={"items": [agent_json()], "nextCursor": "same"})
    with pytest.raises(E.ProtocolError, match="repeated"):
        _ = [agent async for agent in client.iter_agents()]


async def test_create_run_sends_follow_up_prompt(
    client: CursorClient, router: respx.MockRouter
) -> None:
    route = router.post(f"/v1/agents/{AGENT_ID}/runs").respond(
        201, json={"run": run_json("CREATING", run_id="run-2")}
    )
    run = await client.create_run(AGENT_ID, CreateRunRequest(prompt=Prompt(text="Fix tests")))
    assert run.id == "run-2"
    assert json.loads(route.calls.last.request.content) == {"prompt": {"text": "Fix tests"}}


async def test_create_run_on_busy_agent_fails_on_first_try(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.post(f"/v1/agents/{AGENT_ID}/runs").respond(
        409, json=error_json("agent_busy", "Agent already has an active run")
    )
    with pytest.raises(E.AgentBusy, match="active run"):
        await client.create_run(AGENT_ID, CreateRunRequest(prompt=Prompt(text="again")))


async def test_cancel_run_reports_whether_it_cancelled(
    client: CursorClient, router: respx.MockRouter
) -> None:
    path = f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}/cancel"
    router.post(path).mock(
        side_effect=[
            httpx.Response(200, json={"id": RUN_ID}),
            httpx.Response(409, json=error_json("run_not_cancellable", "Run is finished")),
        ]
    )
    assert await client.cancel_run(AGENT_ID, RUN_ID) is True
    assert await client.cancel_run(AGENT_ID, RUN_ID) is False


async def test_usage_returns_totals(client: CursorClient, router: respx.MockRouter) -> None:
    tokens = {
        "inputTokens": 1,
        "outputTokens": 2,
        "cacheWriteTokens": 3,
        "cacheReadTokens": 4,
        "totalTokens": 10,
    }
    router.get(f"/v1/agents/{AGENT_ID}/usage").respond(
        200, json={"totalUsage": tokens, "runs": [{"id": RUN_ID, "usage": tokens}]}
    )
    usage = await client.usage(AGENT_ID)
    assert usage is not None
    assert usage.total_usage.total_tokens == 10
    assert usage.runs[0].usage.output_tokens == 2


async def test_usage_is_unknown_when_feature_unavailable(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get(f"/v1/agents/{AGENT_ID}/usage").respond(
        403, json=error_json("feature_unavailable", "Usage API is in early access")
    )
    assert await client.usage(AGENT_ID) is None


async def test_archive_agent_posts_archive(client: CursorClient, router: respx.MockRouter) -> None:
    route = router.post(f"/v1/agents/{AGENT_ID}/archive").respond(200, json={"id": AGENT_ID})
    await client.archive_agent(AGENT_ID)
    assert route.call_count == 1


async def test_unknown_run_status_is_a_protocol_error_naming_the_value(
    client: CursorClient, router: respx.MockRouter
) -> None:
    router.get(f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}").respond(200, json=run_json("PAUSED"))
    with pytest.raises(E.ProtocolError, match="unknown run status 'PAUSED'") as info:
        await client.get_run(AGENT_ID, RUN_ID)
    assert f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}" in str(info.value)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b'{"id": "run-1"}', "agentId: Field required"),
    ],
)
async def test_malformed_success_body_is_a_protocol_error(
    client: CursorClient, router: respx.MockRouter, body: bytes, problem: str
) -> None:
    router.get(f"/v1/agents/{AGENT_ID}/runs/{RUN_ID}").respond(200, content=body)
    with pytest.raises(E.ProtocolError, match=problem):
        await client.get_run(AGENT_ID, RUN_ID)
