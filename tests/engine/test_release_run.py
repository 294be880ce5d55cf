"""The engine end to end on fake time, against the in-process fake Cursor server."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.release import Limits, ReleasePlan
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import (
    API_KEY,
    agent_already_on,
    origin_in,
    run_on_fake,
    settings,
    status_left_by_a_crash,
)
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0


def seven_fu_plan(limits: Limits | None = None) -> ReleasePlan:
    return plan(
        [
            fu("FU-000"),
            fu("FU-002", risk="high"),
            fu("FU-050", "FU-000", risk="high"),
            fu("FU-051", "FU-000", risk="high"),
            fu("FU-052", "FU-050", priority="P1"),
            fu("FU-053", "FU-050"),
            fu("FU-054", "FU-050"),
        ],
        [
            ("0", ["FU-000", "FU-002"]),
            ("0.5", ["FU-050", "FU-051"], ["FU-000"]),
            ("0.6", ["FU-052", "FU-053", "FU-054"], ["FU-050"]),
        ],
        limits=limits or Limits(max_parallel_fus=3, max_high_risk_in_parallel=1),
    )


async def test_release_completes_within_limits_launching_each_fu_once(tmp_path: Path) -> None:
    scenario = Scenario(defaults=FuBehaviour(creating_s=5, duration_s=20 * MIN))
    ran = await run_on_fake(seven_fu_plan(), scenario, tmp_path)

    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.status["orchestrator"]["status"] == "completed"
    assert sorted(ran.status["completed_fus"]) == sorted(
        ["FU-000", "FU-002", "FU-050", "FU-051", "FU-052", "FU-053", "FU-054"]
    )
    stats = ran.stats
    assert stats["launches_per_fu"] == {fu_id: 1 for fu_id in ran.status["completed_fus"]}
    assert stats["max_concurrent_active"] <= 3
    assert ran.outcome.peak_high_risk == 1
    entry = ran.fu("FU-050")
    assert entry["progress"] == 1.0
    assert entry["attempts"] == 1
    assert entry["worker_agent_id"].startswith("bc-")
    assert entry["branch"]
    assert [b["batch_id"] for b in ran.status["batches"]] == [0, 0.5, 0.6]
    assert all(b["status"] == "completed" for b in ran.status["batches"])


async def test_an_fu_waits_for_its_dependency_in_a_later_batch(tmp_path: Path) -> None:
    """neotoma v0.1.0: FU-059 (batch 0.8) depends on FU-103 (batch 3)."""
    p = plan(
        [fu("FU-103"), fu("FU-059", "FU-103"), fu("FU-056")],
        [("0.8", ["FU-056", "FU-059"]), ("3", ["FU-103"])],
    )
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(p, scenario, tmp_path)
    runs = {r["fu_id"]: r for r in ran.stats["runs"]}
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert runs["FU-059"]["created_s"] >= runs["FU-103"]["ended_s"]
    assert runs["FU-056"]["created_s"] < runs["FU-103"]["ended_s"]


async def test_strict_batches_waits_for_every_earlier_batch(tmp_path: Path) -> None:
    p = plan(
        [fu("FU-1"), fu("FU-2")],
        [("0", ["FU-1"]), ("1", ["FU-2"])],
    )
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(p, scenario, tmp_path, engine=settings(strict_batches=True))
    runs = {r["fu_id"]: r for r in ran.stats["runs"]}
    assert runs["FU-2"]["created_s"] >= runs["FU-1"]["ended_s"]


async def test_hung_p0_agent_is_detected_stale_cancelled_and_retried(tmp_path: Path) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=5 * MIN),
        fus={"FU-1": FuBehaviour(hang=True)},
    )
    # hang on every attempt: P0 gets 3 retries, then escalates
    with capture_logs() as logs:
        ran = await run_on_fake(p, scenario, tmp_path, engine=settings(stale_after_s=15 * MIN))
    entry = ran.fu("FU-1")
    assert entry["status"] == "needs_human"
    assert entry["attempts"] == 4
    assert "stale" in entry["error"]
    assert ran.stats["launches_per_fu"]["FU-1"] == 4
    assert ran.stats["cancels_per_fu"]["FU-1"] == 4
    assert ran.outcome.status is ReleaseStatus.FAILED
    assert sum(1 for e in logs if e["event"] == "fu.retry_scheduled") == 3
    assert ran.status["errors"][0]["fu_id"] == "FU-1"


async def test_a_hung_p0_agent_that_recovers_on_retry_completes(tmp_path: Path) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=5 * MIN),
        fus={"FU-1": FuBehaviour(fail_first_attempts=1, final_status="FINISHED")},
    )
    ran = await run_on_fake(p, scenario, tmp_path)
    entry = ran.fu("FU-1")
    assert entry["status"] == "completed"
    assert entry["attempts"] == 2
    assert ran.stats["launches_per_fu"]["FU-1"] == 2


async def test_hung_p2_agent_is_escalated_without_retry(tmp_path: Path) -> None:
    p = plan([fu("FU-9", priority="P2")], [("0", ["FU-9"])])
    scenario = Scenario(fus={"FU-9": FuBehaviour(creating_s=0, hang=True)})
    ran = await run_on_fake(p, scenario, tmp_path, engine=settings(stale_after_s=15 * MIN))
    entry = ran.fu("FU-9")
    assert entry["status"] == "needs_human"
    assert entry["attempts"] == 1
    assert ran.stats["cancels_per_fu"]["FU-9"] == 1
    # detected after 15 min without progress, give or take one poll
    assert 15 * MIN <= ran.elapsed_s <= 15 * MIN + 2 * 10.0 + 1


async def test_timeout_fires_at_the_configured_minute(tmp_path: Path) -> None:
    p = plan([fu("FU-7", priority="P2", max_minutes=30)], [("0", ["FU-7"])])
    scenario = Scenario(fus={"FU-7": FuBehaviour(creating_s=0, duration_s=90 * MIN)})
    # stale never fires: the run keeps making progress? It does not in polling mode, so
    # make staleness longer than the timeout.
    ran = await run_on_fake(p, scenario, tmp_path, engine=settings(stale_after_s=60 * MIN))
    entry = ran.fu("FU-7")
    assert entry["status"] == "needs_human"
    assert "timed out after 30 min" in entry["error"]
    assert ran.stats["cancels_per_fu"]["FU-7"] == 1
    assert 30 * MIN <= ran.elapsed_s < 30 * MIN + 5


async def test_fatal_api_error_escalates_immediately_with_the_servers_message(
    tmp_path: Path,
) -> None:
    from orchestrator.fakecursor.scenario import CreateError

    p = plan([fu("FU-5"), fu("FU-6", "FU-5")], [("0", ["FU-5"]), ("1", ["FU-6"])])
    scenario = Scenario(
        fus={
            "FU-5": FuBehaviour(
                create_error=CreateError(
                    status=403, code="repository_access", message="No access to acme/neotoma"
                )
            )
        }
    )
    ran = await run_on_fake(p, scenario, tmp_path)
    assert ran.fu("FU-5")["status"] == "needs_human"
    assert "No access to acme/neotoma" in ran.fu("FU-5")["error"]
    assert ran.fu("FU-6")["status"] == "blocked"
    assert "FU-6" not in ran.stats["launches_per_fu"]
    assert ran.outcome.status is ReleaseStatus.FAILED


async def test_abort_cancels_every_active_run_and_leaves_an_aborted_file(tmp_path: Path) -> None:
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=60 * MIN))
    ran = await run_on_fake(seven_fu_plan(), scenario, tmp_path, abort_at_s=10 * MIN)
    assert ran.outcome.status is ReleaseStatus.ABORTED
    assert ran.status["orchestrator"]["status"] == "aborted"
    launched = set(ran.stats["launches_per_fu"])
    assert launched
    assert set(ran.stats["cancels_per_fu"]) == launched
    for fu_id in launched:
        assert ran.fu(fu_id)["status"] == "cancelled"
    # FUs that never started are not left "pending" in an aborted release's file
    statuses = {e["status"] for b in ran.status["batches"] for e in b["feature_units"]}
    assert statuses <= {"cancelled", "completed"}
    assert "not started" in ran.fu("FU-052")["error"]
    assert ran.elapsed_s < 10 * MIN + 30


async def test_the_api_key_never_reaches_the_status_file_or_logs(tmp_path: Path) -> None:
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=MIN))
    with capture_logs() as logs:
        ran = await run_on_fake(seven_fu_plan(), scenario, tmp_path)
    assert API_KEY not in (tmp_path / "agent_status.json").read_text()
    assert API_KEY not in repr(logs)
    assert ran.outcome.status is ReleaseStatus.COMPLETED


async def test_a_429_storm_slows_launches_but_loses_nothing(tmp_path: Path) -> None:
    from orchestrator.fakecursor.scenario import RateLimitRule, TimeWindow

    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        rate_limit=RateLimitRule(
            windows=[TimeWindow(start_s=0, end_s=5 * MIN)], retry_after_s=20, paths=["/v1/agents"]
        ),
    )
    ran = await run_on_fake(seven_fu_plan(), scenario, tmp_path)
    stats = ran.stats
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert stats["rate_limited"] > 0
    assert stats["launches_per_fu"] == {fu_id: 1 for fu_id in ran.status["completed_fus"]}
    assert len(ran.status["completed_fus"]) == 7
    assert min(run["created_s"] for run in stats["runs"]) >= 5 * MIN


async def test_restart_adopts_the_running_agent_instead_of_launching_a_second(
    tmp_path: Path,
) -> None:
    """After a crash, the new process re-derives the same agentId and follows that run."""
    import asyncio

    from orchestrator.core.agent_ids import agent_id_for
    from orchestrator.fakecursor.app import FakeCursor

    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=30 * MIN))
    p = plan([fu("FU-1"), fu("FU-2", "FU-1")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    fake = FakeCursor(scenario, api_key=API_KEY, clock=asyncio.get_running_loop().time)
    agent_id = agent_id_for(p.release_id, "FU-1", 1)
    await agent_already_on(
        fake, agent_id, "FU-1 before the crash", origin_in(tmp_path), name="v9.9.9 FU-1 a1"
    )
    crashed = status_left_by_a_crash(p.release_id, "FU-1", attempts=1, worker_agent_id=agent_id)
    ran = await run_on_fake(p, scenario, tmp_path, existing=crashed, fake=fake)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.fu("FU-1")["worker_agent_id"] == agent_id
    assert ran.fu("FU-1")["base_sha"] == "main"  # where the adopted agent really started
    assert ran.fu("FU-1")["attempts"] == 1
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1}
    assert ran.stats["agents_total"] == 2


async def test_restart_skips_fus_an_earlier_run_completed(tmp_path: Path) -> None:
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=MIN))
    p = plan([fu("FU-1"), fu("FU-2", "FU-1")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    first = await run_on_fake(p, scenario, tmp_path)
    from orchestrator.models.status import StatusFile

    again = await run_on_fake(
        p, scenario, tmp_path, existing=StatusFile.model_validate(first.status)
    )
    assert again.outcome.status is ReleaseStatus.COMPLETED
    assert again.stats["launches_per_fu"] == {}


async def test_follow_up_mode_retries_on_the_same_agent(tmp_path: Path) -> None:
    from orchestrator.models.release import RetryPolicy

    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=5 * MIN),
        fus={"FU-1": FuBehaviour(hang=True)},
    )
    policy = RetryPolicy(follow_up_on_same_agent=True, backoff_initial_s=1)
    ran = await run_on_fake(
        p, scenario, tmp_path, engine=settings(stale_after_s=10 * MIN, retry=policy)
    )
    runs = ran.stats["runs"]
    assert ran.stats["agents_total"] == 1
    assert len(runs) == 4  # first run + 3 follow-ups, all on one agent
    assert len({r["agent_id"] for r in runs}) == 1
    assert ran.fu("FU-1")["attempts"] == 4
    assert ran.fu("FU-1")["status"] == "needs_human"


async def test_an_expired_stream_falls_back_to_polling_and_the_run_still_completes(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=20 * MIN),
        fus={"FU-1": FuBehaviour(stream_expired=True)},
    )
    with capture_logs() as logs:
        ran = await run_on_fake(p, scenario, tmp_path, engine=settings(stale_after_s=60 * MIN))
    assert ran.fu("FU-1")["status"] == "completed"
    assert any(e["event"] == "run.stream_expired" for e in logs)
    polls = [r for r in ran.fake.requests() if r["path"].endswith(ran.fu("FU-1")["run_id"])]
    assert len(polls) >= 20 * MIN / 10.0 - 2  # one GET per 10 s poll interval


async def test_dropped_stream_connections_resume_and_lose_nothing(tmp_path: Path) -> None:
    from orchestrator.fakecursor.scenario import DropRule

    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1", "FU-2"])])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=20 * MIN),
        drops=DropRule(rate=0.5, paths=["/v1/agents/"], methods=["GET"]),
        seed=3,
    )
    ran = await run_on_fake(p, scenario, tmp_path)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.stats["dropped"] > 0
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1}
