"""Status codes and error bodies the fake shares with the real v1 API."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from orchestrator.fakecursor.scenario import Scenario
from tests.fakecursor.conftest import agent_body, client_for, loop_fake

pytestmark = pytest.mark.asyncio

AGENT_ID = "bc-00000000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Basic " + base64.b64encode(b"wrong-key:").decode()},
        {"Authorization": "Token test-key"},
    ],
)
async def test_requests_without_the_key_get_401_unauthorized(headers: dict[str, str]) -> None:
    async with client_for(loop_fake(), auth=None) as client:
        response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "test-key" not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer test-key"},
        {"Authorization": "Basic " + base64.b64encode(b"test-key:").decode()},
    ],
)
async def test_basic_and_bearer_with_the_key_are_both_accepted(headers: dict[str, str]) -> None:
    async with client_for(loop_fake(), auth=None) as client:
        response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.json()["apiKeyName"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": {}}, "prompt.text"),
        ({"prompt": {"text": ""}}, "prompt.text"),
        ({"prompt": {"text": "x"}, "repos": [{"startingRef": "main"}]}, "repos[0].url"),
        ({"prompt": {"text": "x"}, "agentId": "agent-1"}, "agentId"),
        ({"prompt": {"text": "x"}, "name": "n" * 101}, "name"),
        ({"prompt": {"text": "x"}, "autoCreatePR": "yes"}, "autoCreatePR"),
        ({"prompt": {"text": "x"}, "mode": "chat"}, "mode"),
        ({"prompt": {"text": "x"}, "model": {}}, "model.id"),
        ({"prompt": {"text": "x"}, "agentId": AGENT_ID, "envVars": {"A": "b"}}, "envVars"),
        ({"prompt": {"text": "x"}, "mcpServers": [{"command": "npx"}]}, "mcpServers[0].name"),
    ],
)
async def test_invalid_create_body_is_400_naming_the_field(
    body: dict[str, Any], field: str
) -> None:
    async with client_for(loop_fake()) as client:
        response = await client.post("/v1/agents", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{field}:")


async def test_empty_body_is_missing_body_and_unknown_model_is_invalid_model() -> None:
    async with client_for(loop_fake()) as client:
        empty = await client.post("/v1/agents", content=b"")
        model = await client.post("/v1/agents", json=agent_body(model={"id": "gpt-0"}))
    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "missing_body")
    assert (model.status_code, model.json()["error"]["code"]) == (400, "invalid_model")


async def test_reposting_an_agent_id_is_409_agent_id_conflict_and_creates_nothing() -> None:
    fake = loop_fake()
    async with client_for(fake) as client:
        first = await client.post("/v1/agents", json=agent_body(agentId=AGENT_ID))
        again = await client.post("/v1/agents", json=agent_body(agentId=AGENT_ID))
    assert first.status_code == 201
    assert first.json()["agent"]["id"] == AGENT_ID
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "agent_id_conflict"
    assert fake.stats()["launches_per_fu"] == {"FU-110": 1}


async def test_follow_up_while_a_run_is_active_is_409_agent_busy() -> None:
    async with client_for(loop_fake()) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        response = await client.post(
            f"/v1/agents/{created['agent']['id']}/runs", json={"prompt": {"text": "more"}}
        )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "agent_busy"


async def test_cancelling_twice_is_409_run_not_cancellable() -> None:
    async with client_for(loop_fake()) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        url = f"/v1/agents/{created['agent']['id']}/runs/{created['run']['id']}"
        first = await client.post(url + "/cancel")
        second = await client.post(url + "/cancel")
        run = (await client.get(url)).json()
    assert first.json() == {"id": created["run"]["id"]}
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "run_not_cancellable"
    assert run["status"] == "CANCELLED"
    assert run["result"]
    assert run["durationMs"] >= 0


async def test_unknown_agent_and_run_are_404_with_their_codes() -> None:
    async with client_for(loop_fake()) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        no_agent = await client.get(f"/v1/agents/{AGENT_ID}")
        no_run = await client.get(f"/v1/agents/{created['agent']['id']}/runs/run-nope")
        no_path = await client.get("/v1/nowhere")
    assert (no_agent.status_code, no_agent.json()["error"]["code"]) == (404, "agent_not_found")
    assert (no_run.status_code, no_run.json()["error"]["code"]) == (404, "run_not_found")
    assert no_path.status_code == 404
    assert no_path.json()["error"]["code"] == "not_found"


async def test_archived_agent_refuses_runs_until_unarchived_and_deleted_agent_is_gone() -> None:
    fake = loop_fake(Scenario.model_validate({"defaults": {"creating_s": 0, "duration_s": 0}}))
    async with client_for(fake) as client:
        agent_id = (await client.post("/v1/agents", json=agent_body())).json()["agent"]["id"]
        base = f"/v1/agents/{agent_id}"
        await client.post(base + "/archive")
        archived = await client.get(base)
        refused = await client.post(base + "/runs", json={"prompt": {"text": "again"}})
        await client.post(base + "/unarchive")
        accepted = await client.post(base + "/runs", json={"prompt": {"text": "again"}})
        deleted = await client.delete(base)
        gone = await client.get(base)
    assert archived.json()["status"] == "ARCHIVED"
    assert refused.json()["error"]["code"] == "agent_archived"
    assert accepted.status_code == 201
    assert deleted.json() == {"id": agent_id}
    assert gone.status_code == 404


async def test_usage_can_be_scripted_unavailable_as_403_feature_unavailable() -> None:
    fake = loop_fake(Scenario(usage_available=False))
    async with client_for(fake) as client:
        agent_id = (await client.post("/v1/agents", json=agent_body())).json()["agent"]["id"]
        response = await client.get(f"/v1/agents/{agent_id}/usage")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "feature_unavailable"


async def test_models_lists_the_scenario_models_and_those_are_accepted() -> None:
    fake = loop_fake(Scenario(models=["composer-2", "fast-model"]))
    async with client_for(fake) as client:
        models = (await client.get("/v1/models")).json()["items"]
        created = await client.post("/v1/agents", json=agent_body(model={"id": "fast-model"}))
    assert [m["id"] for m in models] == ["composer-2", "fast-model"]
    assert created.status_code == 201
