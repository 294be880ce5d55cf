"""The account's cap on concurrently active agents: refusals, slots freed, stats, the CLI flag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from orchestrator.errors import ValidationFailed
from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.scenario import ActiveAgentCap, Scenario, load_scenario
from tests.fakecursor.conftest import KEY, agent_body, client_for, loop_fake

DEFAULT_MESSAGE = (
    "You have reached the maximum of 3 active agents. Archive agents to start new ones."
)
TWO_MESSAGE = "You have reached the maximum of 2 active agents. Archive agents to start new ones."
PLAN_MESSAGE = "Your plan allows at most 3 concurrently active background agents."


def _capped(**cap: Any) -> Scenario:
    return Scenario.model_validate(
        {"defaults": {"creating_s": 0, "duration_s": 10}, "active_agent_cap": cap}
    )


async def _create(client: httpx.AsyncClient, fu: str, **extra: Any) -> httpx.Response:
    return await client.post("/v1/agents", json=agent_body(f"Implement {fu}", **extra))


async def _fill(client: httpx.AsyncClient, n: int) -> list[str]:
    ids = []
    for i in range(n):
        created = await _create(client, f"FU-{100 + i}")
        assert created.status_code == 201, created.text
        ids.append(created.json()["agent"]["id"])
    return ids


@pytest.mark.asyncio
@pytest.mark.looptime
@pytest.mark.parametrize(
    ("cap", "status", "code", "message", "retry_after"),
    [
        ({"limit": 3}, 403, "agent_limit_exceeded", DEFAULT_MESSAGE, None),
        (
            {"limit": 3, "status": 429, "code": "rate_limit_exceeded", "retry_after_s": 2.5},
            429,
            "rate_limit_exceeded",
            DEFAULT_MESSAGE,
            "3",
        ),
        ({"limit": 3, "status": 429}, 429, "agent_limit_exceeded", DEFAULT_MESSAGE, "60"),
        (
            {
                "limit": 3,
                "code": "plan_required",
                "message": PLAN_MESSAGE.replace("3", "{limit}"),
            },
            403,
            "plan_required",
            PLAN_MESSAGE,
            None,
        ),
    ],
)
async def test_creates_beyond_the_cap_get_the_scripted_answer(
    cap: dict[str, Any], status: int, code: str, message: str, retry_after: str | None
) -> None:
    fake = loop_fake(_capped(**cap))
    async with client_for(fake) as client:
        await _fill(client, 3)
        refused = await _create(client, "FU-200")
        again = await _create(client, "FU-200")
        listed = (await client.get("/v1/agents")).json()["items"]
        requests = (await client.get("/_fake/requests")).json()["items"]
    assert refused.status_code == status
    assert refused.json() == {"error": {"code": code, "message": message}}
    assert refused.headers.get("retry-after") == retry_after
    assert again.status_code == status
    assert len(listed) == 3  # nothing was created
    assert [(r["fault"], r["fu_id"]) for r in requests[3:5]] == [("agent_cap", "FU-200")] * 2
    stats = fake.stats()
    assert stats["launches_per_fu"] == {"FU-100": 1, "FU-101": 1, "FU-102": 1}
    assert (stats["cap_refusals"], stats["cap_refusals_per_fu"]) == (2, {"FU-200": 2})


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_finished_agents_hold_their_slots_until_archived_or_deleted() -> None:
    fake = loop_fake(_capped(limit=2))
    async with client_for(fake) as client:
        first, second = await _fill(client, 2)
        await anyio.sleep(60)  # both runs FINISHED: the agents still hold their slots
        still_full = await _create(client, "FU-200")
        await client.post(f"/v1/agents/{first}/archive")
        after_archive = await _create(client, "FU-201")
        full_again = await _create(client, "FU-202")
        await client.delete(f"/v1/agents/{second}")
        after_delete = await _create(client, "FU-203")
    assert still_full.status_code == 403
    assert after_archive.status_code == 201
    assert full_again.status_code == 403
    assert after_delete.status_code == 201
    stats = fake.stats()
    assert stats["active_agents_now"] == 2
    assert stats["max_active_agents"] == 2
    assert stats["cap_refusals"] == 2


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_unarchiving_beyond_the_cap_is_refused_the_same_way() -> None:
    fake = loop_fake(_capped(limit=2, status=429, retry_after_s=30))
    async with client_for(fake) as client:
        first, second = await _fill(client, 2)
        await client.post(f"/v1/agents/{first}/archive")
        third = (await _create(client, "FU-200")).json()["agent"]["id"]
        refused = await client.post(f"/v1/agents/{first}/unarchive")
        still_archived = (await client.get(f"/v1/agents/{first}")).json()["status"]
        unarchive_active = await client.post(f"/v1/agents/{second}/unarchive")  # holds a slot
        await client.post(f"/v1/agents/{third}/archive")
        allowed = await client.post(f"/v1/agents/{first}/unarchive")
        now_active = (await client.get(f"/v1/agents/{first}")).json()["status"]
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.json() == {"error": {"code": "agent_limit_exceeded", "message": TWO_MESSAGE}}
    assert still_archived == "ARCHIVED"
    assert unarchive_active.status_code == 200
    assert allowed.status_code == 200
    assert now_active == "ACTIVE"
    stats = fake.stats()
    assert stats["cap_refusals_per_fu"] == {"FU-100": 1}
    assert (stats["active_agents_now"], stats["max_active_agents"]) == (2, 2)


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_follow_ups_on_agents_that_hold_a_slot_are_not_refused() -> None:
    fake = loop_fake(_capped(limit=1))
    async with client_for(fake) as client:
        (agent_id,) = await _fill(client, 1)
        statuses = []
        for _ in range(3):
            await anyio.sleep(20)
            follow = await client.post(
                f"/v1/agents/{agent_id}/runs", json={"prompt": {"text": "again"}}
            )
            statuses.append(follow.status_code)
    assert statuses == [201, 201, 201]
    stats = fake.stats()
    assert stats["launches_per_fu"] == {"FU-100": 4}
    assert stats["cap_refusals"] == 0


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_a_retried_create_at_full_cap_still_gets_agent_id_conflict_to_adopt() -> None:
    agent_id = "bc-00000000-0000-4000-8000-00000000cafe"
    async with client_for(loop_fake(_capped(limit=1))) as client:
        first = await _create(client, "FU-100", agentId=agent_id)
        retried = await _create(client, "FU-100", agentId=agent_id)
    assert first.status_code == 201
    assert (retried.status_code, retried.json()["error"]["code"]) == (409, "agent_id_conflict")


@pytest.mark.asyncio
@pytest.mark.looptime
async def test_stats_report_the_peak_of_active_agents_with_and_without_a_cap() -> None:
    fake = loop_fake(Scenario.model_validate({"defaults": {"creating_s": 0, "duration_s": 5}}))
    async with client_for(fake) as client:
        ids = await _fill(client, 12)  # no cap: more than Pro's 8 are fine
        await anyio.sleep(10)  # every run is over; the agents still hold slots
        for agent_id in ids[:10]:
            await client.post(f"/v1/agents/{agent_id}/archive")
        await _fill(client, 1)
        over_http = (await client.get("/_fake/stats")).json()
    assert over_http["active_agent_cap"] is None
    assert over_http["max_active_agents"] == 12
    assert over_http["active_agents_now"] == 3
    assert over_http["cap_refusals"] == 0
    assert over_http["max_concurrent_active"] == 12  # runs, counted as before
    assert over_http["agents_total"] == 13


def test_scenario_field_loads_and_cli_override_keeps_the_scripted_answer(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "active_agent_cap:\n  limit: 3\n  status: 429\n  code: plan_required\n  retry_after_s: 5\n"
    )
    scenario = load_scenario(path)
    assert scenario.active_agent_cap == ActiveAgentCap(
        limit=3, status=429, code="plan_required", retry_after_s=5
    )
    overridden = scenario.with_active_agent_cap(8)
    assert overridden.active_agent_cap == ActiveAgentCap(
        limit=8, status=429, code="plan_required", retry_after_s=5
    )
    assert Scenario().with_active_agent_cap(2).active_agent_cap == ActiveAgentCap(limit=2)
    assert overridden.active_agent_cap is not None
    assert overridden.active_agent_cap.rendered_message().startswith(
        "You have reached the maximum of 8 active agents."
    )


def test_a_bad_cap_is_reported_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("active_agent_cap:\n  limit: 0\n")
    with pytest.raises(ValidationFailed) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}:2:3: active_agent_cap.limit:")


@pytest.mark.slow
@pytest.mark.parametrize("scripted", [False, True])
def test_the_cli_flag_caps_active_agents_over_loopback(tmp_path: Path, scripted: bool) -> None:
    scenario = tmp_path / "scenario.yaml"
    cap = "active_agent_cap: {limit: 9, status: 429, retry_after_s: 7}\n" if scripted else ""
    scenario.write_text("defaults: {creating_s: 0, duration_s: 0}\n" + cap)
    auth = (KEY, "")
    with (
        FakeCursorProcess(api_key=KEY, scenario=scenario, max_active_agents=2) as proc,
        httpx.Client(base_url=proc.url, auth=auth, timeout=5.0) as client,
    ):
        ids = [
            client.post("/agents", json=agent_body(f"FU-{n}")).json()["agent"]["id"] for n in (1, 2)
        ]
        refused = client.post("/agents", json=agent_body("FU-3"))
        follow = client.post(f"/agents/{ids[0]}/runs", json={"prompt": {"text": "go on"}})
        archived = client.post(f"/agents/{ids[1]}/archive")
        freed = client.post("/agents", json=agent_body("FU-4"))
        stats = httpx.get(proc.root + "/_fake/stats", timeout=5.0).json()
    assert proc.proc.returncode == 0
    assert refused.status_code == (429 if scripted else 403)
    assert refused.json() == {"error": {"code": "agent_limit_exceeded", "message": TWO_MESSAGE}}
    assert refused.headers.get("retry-after") == ("7" if scripted else None)
    assert follow.status_code == 201  # the agent already holds its slot
    assert archived.status_code == 200
    assert freed.status_code == 201
    assert stats["active_agent_cap"] == 2
    assert (stats["max_active_agents"], stats["active_agents_now"]) == (2, 2)
    assert (stats["cap_refusals"], stats["cap_refusals_per_fu"]) == (1, {"FU-3": 1})
