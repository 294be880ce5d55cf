"""Scripted traffic faults (429, 5xx, drops, latency) and the counters at `/_fake/stats`."""

from __future__ import annotations

import anyio
import httpx
import pytest

from orchestrator.fakecursor.app import DroppedConnection
from orchestrator.fakecursor.scenario import Scenario
from tests.fakecursor.conftest import agent_body, client_for, loop_fake

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]


async def test_every_third_request_is_429_with_retry_after_and_rate_limit_headers() -> None:
    scenario = Scenario.model_validate(
        {"rate_limit": {"every_n_requests": 3, "retry_after_s": 2, "limit": 10}}
    )
    fake = loop_fake(scenario)
    async with client_for(fake) as client:
        responses = [await client.get("/v1/me") for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429]
    limited = responses[2]
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert limited.headers["retry-after"] == "2"
    assert limited.headers["x-ratelimit-limit"] == "10"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) >= int(fake.epoch.timestamp()) + 2
    assert fake.stats()["rate_limited"] == 2


async def test_seeded_5xx_rate_is_deterministic_and_counted() -> None:
    async def codes_for(seed: int) -> tuple[list[int], int, set[str]]:
        scenario = Scenario.model_validate(
            {"seed": seed, "server_errors": {"rate": 0.5, "status": 502}}
        )
        fake = loop_fake(scenario)
        async with client_for(fake) as client:
            responses = [await client.get("/v1/models") for _ in range(20)]
        codes = {r.json()["error"]["code"] for r in responses if r.status_code == 502}
        return [r.status_code for r in responses], fake.stats()["server_errors_injected"], codes

    first, injected, error_codes = await codes_for(7)
    again, _, _ = await codes_for(7)
    other, _, _ = await codes_for(8)
    assert first == again
    assert first != other
    assert 0 < first.count(502) < 20
    assert injected == first.count(502)
    assert error_codes == {"upstream_error"}


async def test_burst_of_429_by_request_range_then_recovery() -> None:
    scenario = Scenario.model_validate(
        {"rate_limit": {"request_ranges": [[1, 3]], "retry_after_s": 0}}
    )
    async with client_for(loop_fake(scenario)) as client:
        codes = [(await client.get("/v1/me")).status_code for _ in range(5)]
    assert codes == [429, 429, 429, 200, 200]


async def test_dropped_connection_surfaces_as_remote_protocol_error() -> None:
    fake = loop_fake(Scenario.model_validate({"drops": {"request_ranges": [[1, 1]]}}))
    async with client_for(fake) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/agents", json=agent_body())
        after = await client.get("/v1/agents")
    assert after.json()["items"] == []  # dropped before handling: nothing was created
    assert fake.stats()["dropped"] == 1
    assert issubclass(DroppedConnection, httpx.TransportError)


async def test_drop_after_handling_loses_the_response_but_keeps_the_agent() -> None:
    agent_id = "bc-00000000-0000-4000-8000-00000000abcd"
    scenario = Scenario.model_validate(
        {"drops": {"request_ranges": [[1, 1]], "after_handling": True}}
    )
    fake = loop_fake(scenario)
    async with client_for(fake) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/agents", json=agent_body(agentId=agent_id))
        retried = await client.post("/v1/agents", json=agent_body(agentId=agent_id))
        adopted = await client.get(f"/v1/agents/{agent_id}")
    assert retried.json()["error"]["code"] == "agent_id_conflict"
    assert adopted.json()["latestRunId"].startswith("run-")
    assert fake.stats()["launches_per_fu"] == {"FU-110": 1}


async def test_latency_delays_each_response_by_exactly_the_scripted_time() -> None:
    async with client_for(loop_fake(Scenario(latency_s=1.5))) as client:
        start = anyio.current_time()
        await client.get("/v1/me")
        await client.get("/v1/me")
        elapsed = anyio.current_time() - start
    assert elapsed == pytest.approx(3.0)


async def test_stats_count_launches_cancels_and_max_concurrency() -> None:
    scenario = Scenario.model_validate({"defaults": {"creating_s": 0, "duration_s": 100}})
    fake = loop_fake(scenario)
    async with client_for(fake) as client:
        for fu in ("FU-100", "FU-101", "FU-102"):
            await client.post("/v1/agents", json=agent_body(f"Implement {fu}"))
            await anyio.sleep(10)
        await anyio.sleep(80)  # FU-100 ends at t=100, exactly when FU-103 starts
        late = (await client.post("/v1/agents", json=agent_body("Implement FU-103"))).json()
        await client.post(f"/v1/agents/{late['agent']['id']}/runs/{late['run']['id']}/cancel")
        await client.get("/v1/agents/bc-00000000-0000-4000-8000-000000000000")
        over_http = (await client.get("/_fake/stats")).json()
        requests = (await client.get("/_fake/requests")).json()["items"]
    stats = fake.stats()
    assert stats["launches_per_fu"] == {"FU-100": 1, "FU-101": 1, "FU-102": 1, "FU-103": 1}
    assert stats["cancels_per_fu"] == {"FU-103": 1}
    assert stats["max_concurrent_active"] == 3
    assert stats["max_concurrent_running"] == 3
    assert stats["requests_by_status"] == {"200": 1, "201": 4, "404": 1}
    assert over_http["launches_per_fu"] == stats["launches_per_fu"]
    assert [r["fu_id"] for r in requests[:4]] == ["FU-100", "FU-101", "FU-102", "FU-103"]
    assert requests[-1]["status"] == 404
    assert all(r["path"].startswith("/v1/") for r in requests)  # admin calls are not recorded


async def test_reset_forgets_agents_and_counters() -> None:
    fake = loop_fake()
    async with client_for(fake) as client:
        await client.post("/v1/agents", json=agent_body())
        await client.post("/_fake/reset")
        listed = (await client.get("/v1/agents")).json()
    assert listed == {"items": []}
    assert fake.stats()["launches_per_fu"] == {}
    assert fake.stats()["requests_total"] == 1
