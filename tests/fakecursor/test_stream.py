"""The run's SSE stream: heartbeats, tool calls, terminal events, resume and expiry."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from orchestrator.fakecursor.scenario import Scenario
from tests.fakecursor.conftest import agent_body, client_for, loop_fake, sse_events

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

SCRIPT: dict[str, Any] = {
    "heartbeat_interval_s": 30,
    "defaults": {"creating_s": 10, "duration_s": 120, "tool_calls": 2},
}


async def test_stream_carries_status_heartbeats_tool_calls_result_and_done() -> None:
    loop_time = []
    async with client_for(loop_fake(Scenario.model_validate(SCRIPT))) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        url = f"/v1/agents/{created['agent']['id']}/runs/{created['run']['id']}/stream"
        response = await client.get(url)
        loop_time.append(anyio.current_time())
    events = sse_events(response.text)
    kinds = [e["event"] for e in events]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-cursor-stream-retention-seconds"] == "3600"
    assert kinds[0] == "status"
    assert events[0]["data"]["status"] == "CREATING"
    assert kinds.count("heartbeat") == 3  # at 40, 70, 100 s of a run ending at 130 s
    assert [e["data"]["status"] for e in events if e["event"] == "tool_call"] == [
        "running",
        "completed",
        "running",
        "completed",
    ]
    assert kinds[-3:] == ["result", "status", "done"]
    assert events[-3]["data"]["status"] == "FINISHED"
    assert events[-3]["data"]["durationMs"] == 130_000
    assert all(e["id"] for e in events if e["event"] != "status")
    assert all(e["id"] is None for e in events if e["event"] == "status")


async def test_last_event_id_resumes_after_that_event_and_foreign_ids_are_400() -> None:
    async with client_for(loop_fake(Scenario.model_validate(SCRIPT))) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        url = f"/v1/agents/{created['agent']['id']}/runs/{created['run']['id']}/stream"
        full = sse_events((await client.get(url)).text)
        resume_from = next(e for e in full if e["event"] == "heartbeat")
        resumed = sse_events(
            (await client.get(url, headers={"Last-Event-ID": resume_from["id"]})).text
        )
        foreign = await client.get(url, headers={"Last-Event-ID": "123-999"})
    with_ids = [e["id"] for e in full if e["id"]]
    after = with_ids[with_ids.index(resume_from["id"]) + 1 :]
    assert resumed[0]["event"] == "status"
    assert [e["id"] for e in resumed if e["id"]] == after
    assert foreign.status_code == 400
    assert foreign.json()["error"]["code"] == "invalid_last_event_id"


async def test_hung_run_streams_no_heartbeats_until_cancelled() -> None:
    scenario = Scenario.model_validate({**SCRIPT, "defaults": {"hang": True, "creating_s": 0}})
    async with client_for(loop_fake(scenario)) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        base = f"/v1/agents/{created['agent']['id']}/runs/{created['run']['id']}"
        async with anyio.create_task_group() as tg:

            async def cancel_later() -> None:
                await anyio.sleep(4 * 3600)
                await client.post(base + "/cancel")

            tg.start_soon(cancel_later)
            response = await client.get(base + "/stream")
            finished_at = anyio.current_time()
    kinds = [e["event"] for e in sse_events(response.text)]
    assert kinds == ["status", "result", "status", "done"]
    assert sse_events(response.text)[1]["data"]["status"] == "CANCELLED"
    assert finished_at >= 4 * 3600


async def test_stream_is_410_after_the_retention_window_or_when_scripted() -> None:
    scenario = Scenario.model_validate(
        {**SCRIPT, "stream_retention_s": 60, "fus": {"FU-200": {"stream_expired": True}}}
    )
    async with client_for(loop_fake(scenario)) as client:
        created = (await client.post("/v1/agents", json=agent_body())).json()
        scripted = (await client.post("/v1/agents", json=agent_body("Do FU-200"))).json()
        await anyio.sleep(130 + 61)
        expired = await client.get(
            f"/v1/agents/{created['agent']['id']}/runs/{created['run']['id']}/stream"
        )
        always = await client.get(
            f"/v1/agents/{scripted['agent']['id']}/runs/{scripted['run']['id']}/stream"
        )
    assert (expired.status_code, expired.json()["error"]["code"]) == (410, "stream_expired")
    assert (always.status_code, always.json()["error"]["code"]) == (410, "stream_expired")
