"""Runs move through their statuses over simulated time (looptime: no real waiting)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from orchestrator.fakecursor.scenario import Scenario
from tests.fakecursor.conftest import agent_body, client_for, loop_fake

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]


async def _run(client: httpx.AsyncClient, created: dict[str, Any]) -> dict[str, Any]:
    url = f"/v1/agents/{created['agent']['id']}/runs/{created['run']['id']}"
    body: dict[str, Any] = (await client.get(url)).json()
    return body


async def test_run_goes_creating_running_finished_with_branch_pr_and_result() -> None:
    scenario = Scenario.model_validate({"defaults": {"creating_s": 10, "duration_s": 100}})
    async with client_for(loop_fake(scenario)) as client:
        created = (await client.post("/v1/agents", json=agent_body(autoCreatePR=True))).json()
        seen = [created["run"]["status"]]
        await anyio.sleep(9)
        early = await _run(client, created)
        await anyio.sleep(2)
        running = await _run(client, created)
        await anyio.sleep(100)
        done = await _run(client, created)
    seen += [early["status"], running["status"], done["status"]]
    assert seen == ["CREATING", "CREATING", "RUNNING", "FINISHED"]
    assert "git" not in early
    assert running["git"]["branches"][0] == {
        "repoUrl": "github.com/acme/neotoma",
        "branch": running["git"]["branches"][0]["branch"],
    }
    assert running["git"]["branches"][0]["branch"].startswith("cursor/fu-110-")
    assert done["git"]["branches"][0]["prUrl"].startswith("https://github.com/acme/neotoma/pull/")
    assert done["durationMs"] == 110_000
    assert "FU-110" in done["result"]
    assert "durationMs" not in running


async def test_time_scale_makes_two_simulated_hours_take_two_seconds() -> None:
    scenario = Scenario.model_validate({"defaults": {"creating_s": 0, "duration_s": 7200}})
    async with client_for(loop_fake(scenario, time_scale=3600)) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        await anyio.sleep(1.9)
        before = await _run(client, created)
        await anyio.sleep(0.2)
        after = await _run(client, created)
    assert (before["status"], after["status"]) == ("RUNNING", "FINISHED")
    assert after["durationMs"] == 7_200_000


async def test_hung_run_stays_running_for_days() -> None:
    scenario = Scenario.model_validate({"fus": {"FU-110": {"hang": True}}})
    async with client_for(loop_fake(scenario)) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        await anyio.sleep(3 * 86400)
        run = await _run(client, created)
    assert run["status"] == "RUNNING"
    assert "result" not in run


async def test_fail_first_attempts_errors_the_first_launches_of_that_fu_only() -> None:
    scenario = Scenario.model_validate(
        {
            "defaults": {"creating_s": 0, "duration_s": 5},
            "fus": {"FU-110": {"fail_first_attempts": 2}},
        }
    )
    statuses = []
    async with client_for(loop_fake(scenario)) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        other = (await client.post("/v1/agents", json=agent_body("Do FU-200"))).json()
        await anyio.sleep(6)
        statuses.append((await _run(client, created))["status"])
        agent_url = f"/v1/agents/{created['agent']['id']}"
        for _ in range(2):
            follow = await client.post(agent_url + "/runs", json={"prompt": {"text": "retry"}})
            await anyio.sleep(6)
            run_url = f"{agent_url}/runs/{follow.json()['run']['id']}"
            statuses.append((await client.get(run_url)).json()["status"])
        other_status = (await _run(client, other))["status"]
        agent = (await client.get(agent_url)).json()
    assert statuses == ["ERROR", "ERROR", "FINISHED"]
    assert other_status == "FINISHED"
    assert agent["latestRunId"] == follow.json()["run"]["id"]


@pytest.mark.parametrize("final", ["ERROR", "EXPIRED"])
async def test_scripted_final_status_is_reported(final: str) -> None:
    scenario = Scenario.model_validate({"fus": {"FU-110": {"final_status": final}}})
    async with client_for(loop_fake(scenario)) as client:
        created = (await client.post("/v1/agents", json=agent_body(autoCreatePR=True))).json()
        await anyio.sleep(3600)
        run = await _run(client, created)
    assert run["status"] == final
    assert run["result"]
    assert "prUrl" not in run["git"]["branches"][0]


async def test_scripted_create_error_rejects_only_the_first_n_creates() -> None:
    scenario = Scenario.model_validate(
        {
            "fus": {
                "FU-2026-04-aauth-hardware-attestation": {
                    "create_error": {"status": 403, "code": "repository_access", "times": 1}
                }
            }
        }
    )
    body = agent_body("Implement FU-2026-04-aauth-hardware-attestation")
    async with client_for(loop_fake(scenario)) as client:
        first = await client.post("/v1/agents", json=body)
        second = await client.post("/v1/agents", json=body)
        unrelated = await client.post("/v1/agents", json=agent_body("Implement FU-2026"))
    assert (first.status_code, first.json()["error"]["code"]) == (403, "repository_access")
    assert second.status_code == 201
    assert unrelated.status_code == 201


async def test_listing_agents_pages_newest_first_with_next_cursor() -> None:
    async with client_for(loop_fake()) as client:
        ids = [
            (await client.post("/v1/agents", json=agent_body(f"FU-{n}"))).json()["agent"]["id"]
            for n in range(5)
        ]
        first = (await client.get("/v1/agents", params={"limit": 2})).json()
        second = (
            await client.get("/v1/agents", params={"limit": 2, "cursor": first["nextCursor"]})
        ).json()
        last = (
            await client.get("/v1/agents", params={"limit": 2, "cursor": second["nextCursor"]})
        ).json()
        too_many = await client.get("/v1/agents", params={"limit": 101})
    pages = [first, second, last]
    assert [a["id"] for p in pages for a in p["items"]] == ids[::-1]
    assert "nextCursor" not in last
    assert too_many.status_code == 400
    assert too_many.json()["error"]["message"].startswith("limit:")
