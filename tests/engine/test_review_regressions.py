"""Regressions found in review: each once hung, lost work or broke a promise in the README."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from orchestrator.core.agent_ids import agent_id_for
from orchestrator.engine.deciders import Answer, PolicyDecider, Question, QuestionKind
from orchestrator.fakecursor.scenario import (
    CreateError,
    FuBehaviour,
    RateLimitRule,
    Scenario,
    TimeWindow,
)
from orchestrator.models.status import ReleaseStatus, StatusFile
from tests.engine.harness import (
    API_KEY,
    agent_already_on,
    origin_in,
    remote_git,
    run_on_fake,
    settings,
    status_left_by_a_crash,
)
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
NO_ACCESS = CreateError(status=403, code="repository_access", message="no access")


async def test_fail_mode_blocks_a_same_batch_dependant_instead_of_hanging(tmp_path: Path) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(create_error=NO_ACCESS)},
    )
    p = plan([fu("FU-1", priority="P2"), fu("FU-2", "FU-1")], [("0", ["FU-1", "FU-2"])])
    # (no fail_after: looptime would jump to its deadline while the writer's thread works)
    ran = await run_on_fake(p, scenario, tmp_path, decider=PolicyDecider(on_batch_failure="fail"))
    assert ran.outcome.status is ReleaseStatus.FAILED
    assert ran.elapsed_s < 1  # no wait but the slot pool's settle (50 ms) before a grant
    assert ran.fu("FU-2")["status"] == "blocked"


@dataclass
class RetryAllOnce:
    asked: int = 0
    deadline_s: float | None = None

    def awaits(self, kind: QuestionKind) -> bool:
        return False

    async def ask(self, question: Question) -> Answer:
        self.asked += 1
        if question.kind == "batch_failure" and self.asked == 1:
            return Answer("retry", "test", all_fus=True)
        return Answer("fail" if question.kind == "batch_failure" else "continue", "test")


async def test_retry_all_makes_dependants_wait_for_the_relaunched_fu(tmp_path: Path) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=30 * MIN),
        fus={
            "FU-2": FuBehaviour(duration_s=35 * MIN, fail_first_attempts=1),
            "FU-4": FuBehaviour(duration_s=50 * MIN),
        },
    )
    p = plan(
        [fu("FU-1"), fu("FU-2", priority="P2"), fu("FU-3", "FU-1", "FU-4"), fu("FU-4")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3", "FU-4"])],
    )
    ran = await run_on_fake(p, scenario, tmp_path, decider=RetryAllOnce())
    assert ran.fu("FU-3")["status"] == "completed"
    runs = {r["fu_id"]: r for r in ran.stats["runs"] if r["status"] == "FINISHED"}
    assert ran.stats["launches_per_fu"]["FU-1"] == 2
    assert runs["FU-3"]["created_s"] >= max(
        r["ended_s"] for r in ran.stats["runs"] if r["fu_id"] == "FU-1"
    )


async def test_a_delivered_fu_of_a_skipped_batch_is_deferred_with_its_branch_kept(
    tmp_path: Path,
) -> None:
    """Issue 8: "done" is landed. FU-2 finished and was merged into the candidate, but its
    batch was skipped: it is deferred (not completed), its branch is named, nothing landed."""
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(duration_s=10 * MIN + 4, final_status="ERROR")},
    )
    p = plan([fu("FU-1", priority="P2"), fu("FU-2")], [("0", ["FU-1", "FU-2"])])
    ran = await run_on_fake(p, scenario, tmp_path, decider=PolicyDecider(on_batch_failure="skip"))
    fu2 = ran.fu("FU-2")
    assert fu2["status"] == "deferred"
    assert fu2["delivered_branch"]
    assert fu2["delivered_branch"] in fu2["error"]
    assert fu2["merge_commit"] is None
    assert ran.status["completed_fus"] == []
    assert ran.fu("FU-1")["status"] == "deferred"
    # the release branch never moved from the base
    assert ran.status["integration_sha"] == remote_git(ran.origin, "rev-parse", "main")


async def test_abort_during_a_rate_limited_create_ends_within_the_cancel_grace(
    tmp_path: Path,
) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        rate_limit=RateLimitRule(
            retry_after_s=30,
            paths=["/v1/agents"],
            methods=["POST"],
            windows=[TimeWindow(start_s=0, end_s=10**6)],
        ),
    )
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    ran = await run_on_fake(p, scenario, tmp_path, abort_at_s=5, engine=settings(cancel_grace_s=20))
    assert ran.outcome.status is ReleaseStatus.ABORTED
    assert ran.elapsed_s <= 5 + 20 + 1
    assert ran.fu("FU-1")["status"] == "cancelled"


async def test_a_restart_adopts_the_recorded_run_of_a_follow_up_attempt(tmp_path: Path) -> None:
    from orchestrator.fakecursor.app import FakeCursor

    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=20 * MIN))
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    fake = FakeCursor(scenario, api_key=API_KEY, clock=anyio.current_time)
    agent_id = agent_id_for(p.release_id, "FU-1", 1)  # attempt 2 followed up on this agent
    run = await agent_already_on(fake, agent_id, "FU-1 follow-up", origin_in(tmp_path))
    crashed = status_left_by_a_crash(
        p.release_id, "FU-1", attempts=2, worker_agent_id=agent_id, run_id=run.id
    )
    ran = await run_on_fake(p, scenario, tmp_path, existing=crashed, fake=fake)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.stats["agents_total"] == 1  # no second agent for attempt 2
    assert ran.fu("FU-1")["run_id"] == run.id


async def test_a_restart_keeps_what_a_human_skipped(tmp_path: Path) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=MIN),
        fus={"FU-1": FuBehaviour(create_error=NO_ACCESS)},
    )
    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    first = await run_on_fake(p, scenario, tmp_path, decider=PolicyDecider(on_batch_failure="skip"))
    assert first.fu("FU-1")["status"] == "deferred"
    again = await run_on_fake(
        p,
        scenario,
        tmp_path,
        existing=StatusFile.model_validate(first.status),
        decider=PolicyDecider(on_batch_failure="skip"),
    )
    assert again.fu("FU-1")["status"] == "deferred"
    assert again.stats["launches_per_fu"] == {}
    assert again.outcome.status is ReleaseStatus.COMPLETED


async def test_a_long_retry_after_delays_a_p2_launch_instead_of_escalating_it(
    tmp_path: Path,
) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        rate_limit=RateLimitRule(
            retry_after_s=300,
            paths=["/v1/agents"],
            methods=["POST"],
            windows=[TimeWindow(start_s=0, end_s=12 * MIN)],
        ),
    )
    p = plan([fu("FU-9", priority="P2")], [("0", ["FU-9"])])
    ran = await run_on_fake(p, scenario, tmp_path)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.fu("FU-9")["attempts"] == 1
    assert ran.stats["launches_per_fu"] == {"FU-9": 1}
    assert ran.stats["runs"][0]["created_s"] >= 12 * MIN


@dataclass
class SlowHuman:
    """Answers skip after a while; records when each question was being considered."""

    intervals: list[tuple[float, float]]
    deadline_s: float | None = None

    def awaits(self, kind: QuestionKind) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        start = anyio.current_time()
        await anyio.sleep(10 * MIN)
        self.intervals.append((start, anyio.current_time()))
        return Answer("skip", "test")


async def test_two_failed_batches_are_asked_one_after_the_other(tmp_path: Path) -> None:
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=MIN),
        fus={
            "FU-1": FuBehaviour(create_error=NO_ACCESS),
            "FU-2": FuBehaviour(create_error=NO_ACCESS),
        },
    )
    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    human = SlowHuman([])
    ran = await run_on_fake(p, scenario, tmp_path, decider=human)
    (_, a_end), (b_start, _) = sorted(human.intervals)
    assert b_start >= a_end  # never two questions open at once
    assert ran.status["orchestrator"]["awaiting"] is None
    assert [d["batch_id"] for d in ran.status["decisions"]] in ([0, 1], [1, 0])


async def test_a_recorded_run_that_no_longer_exists_is_relaunched_under_the_attempts_id(
    tmp_path: Path,
) -> None:
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=MIN))
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    edited = status_left_by_a_crash(
        p.release_id, "FU-1", attempts=1, worker_agent_id="worker_fu1_by_hand", run_id="run-gone"
    )
    ran = await run_on_fake(p, scenario, tmp_path, existing=edited)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.fu("FU-1")["worker_agent_id"] == agent_id_for(p.release_id, "FU-1", 1)
