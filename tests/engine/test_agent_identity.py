"""Agent identity (issue 9 §1): orchd adopts only agents of this release run, never another's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from orchestrator.core.agent_ids import agent_id_for
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import (
    API_KEY,
    agent_already_on,
    origin_in,
    run_on_fake,
    status_left_by_a_crash,
)
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
SCENARIO = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
OTHER_REPO = "https://github.com/someone-else/other"


def _fake() -> FakeCursor:
    import asyncio

    return FakeCursor(SCENARIO, api_key=API_KEY, clock=asyncio.get_running_loop().time)


async def test_an_old_style_agent_of_another_repo_is_not_picked_up_by_a_fresh_release(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    fake = _fake()
    foreign = agent_id_for(p.release_id, "FU-1", 1)  # what orchd used to launch everywhere
    await agent_already_on(fake, foreign, "someone else's FU-1", OTHER_REPO, name="v9.9.9 FU-1 a1")
    ran = await run_on_fake(p, SCENARIO, tmp_path, fake=fake)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    mine = ran.fu("FU-1")["worker_agent_id"]
    assert mine != foreign
    assert mine == agent_id_for(
        p.release_id, "FU-1", 1, repo_url=ran.origin, nonce=ran.status["run_nonce"]
    )
    assert ran.stats["agents_total"] == 2  # the foreign one, untouched, and ours


async def test_two_fresh_status_files_never_share_agent_ids(tmp_path: Path) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    first = await run_on_fake(p, SCENARIO, tmp_path / "a")
    second = await run_on_fake(p, SCENARIO, tmp_path / "b")
    assert first.status["run_nonce"] != second.status["run_nonce"]
    assert first.fu("FU-1")["worker_agent_id"] != second.fu("FU-1")["worker_agent_id"]


async def test_a_restart_keeps_the_nonce_and_so_finds_its_own_agents(tmp_path: Path) -> None:
    from orchestrator.models.status import StatusFile

    p = plan([fu("FU-1"), fu("FU-2", "FU-1")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    first = await run_on_fake(p, SCENARIO, tmp_path, abort_at_s=15 * MIN)
    assert first.outcome.status is ReleaseStatus.ABORTED
    again = await run_on_fake(
        p, SCENARIO, tmp_path, existing=StatusFile.model_validate(first.status)
    )
    assert again.outcome.status is ReleaseStatus.COMPLETED
    assert again.status["run_nonce"] == first.status["run_nonce"]
    assert again.fu("FU-1")["worker_agent_id"] == first.fu("FU-1")["worker_agent_id"]


async def test_an_agent_answering_our_id_from_another_repo_is_refused_by_name(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    fake = _fake()
    origin = origin_in(tmp_path)
    ours = agent_id_for(p.release_id, "FU-1", 1, repo_url=origin, nonce="n0nce")
    await agent_already_on(fake, ours, "not ours", OTHER_REPO, name="v9.9.9 FU-1 a1")
    crashed = status_left_by_a_crash(
        p.release_id, "FU-1", attempts=1, worker_agent_id=ours
    ).model_copy(update={"run_nonce": "n0nce"})
    ran = await run_on_fake(p, SCENARIO, tmp_path, existing=crashed, fake=fake)
    assert ran.outcome.status is ReleaseStatus.FAILED
    error = ran.fu("FU-1")["error"]
    assert ran.fu("FU-1")["status"] == "needs_human"
    assert ours in error
    assert "refusing to adopt" in error
    assert OTHER_REPO in error
    assert ran.stats["agents_total"] == 1  # nothing launched in its place under our id


async def test_a_restart_after_an_abort_during_the_create_adopts_the_agent_made_anyway(
    tmp_path: Path,
) -> None:
    """Aborted while the create was in flight: the file says cancelled with no run; Cursor made
    the agent after all. The restart re-sends the same attempt's id and adopts it (409)."""
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    fake = _fake()
    agent_id = agent_id_for(p.release_id, "FU-1", 1)
    await agent_already_on(
        fake, agent_id, "FU-1 made after the abort", origin_in(tmp_path), name="v9.9.9 FU-1 a1"
    )
    aborted = status_left_by_a_crash(
        p.release_id,
        "FU-1",
        attempts=1,
        worker_agent_id=agent_id,
        status="cancelled",
        error="aborted",
    )
    ran = await run_on_fake(p, SCENARIO, tmp_path, existing=aborted, fake=fake)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.stats["agents_total"] == 1  # no second agent for the same FU
    assert ran.fu("FU-1")["worker_agent_id"] == agent_id
    assert ran.fu("FU-1")["attempts"] == 1


async def test_a_follow_up_asked_for_but_never_recorded_is_found_after_a_restart(
    tmp_path: Path,
) -> None:
    """Killed between `POST …/runs` and the status write: the file holds the intent
    (`run_requested_at`) and the agent's older run. The restart follows the new run."""
    import anyio

    from orchestrator.adapters.cursor.client import CursorClient
    from orchestrator.adapters.cursor.models import CreateRunRequest, Prompt
    from orchestrator.fakecursor.transport import StreamingASGITransport

    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    fake = _fake()
    agent_id = agent_id_for(p.release_id, "FU-1", 1)
    first = await agent_already_on(
        fake, agent_id, "FU-1 first run", origin_in(tmp_path), name="v9.9.9 FU-1 a1"
    )
    await anyio.sleep(11 * MIN)  # the first run ended; orchd asked for a follow-up, then died
    asked = first.created_at + timedelta(minutes=11) - timedelta(seconds=1)  # Cursor's clock

    async with httpx.AsyncClient(transport=StreamingASGITransport(fake.app)) as http:
        client = CursorClient(http, base_url="http://fake.test/v1", api_key=API_KEY)
        second = await client.create_run(agent_id, CreateRunRequest(prompt=Prompt(text="go on")))
    crashed = status_left_by_a_crash(
        p.release_id,
        "FU-1",
        attempts=1,
        worker_agent_id=agent_id,
        run_id=first.id,
        run_requested_at=asked.isoformat(),
    )
    ran = await run_on_fake(p, SCENARIO, tmp_path, existing=crashed, fake=fake)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.fu("FU-1")["run_id"] == second.id  # the run it had asked for, not the old one
    assert ran.stats["launches_per_fu"] == {"FU-1": 2}  # no third run, no second agent


async def test_an_agent_made_by_a_create_cut_short_by_an_abort_is_stopped(tmp_path: Path) -> None:
    """Every answer to `POST /v1/agents` is lost after Cursor made the agent; the client keeps
    retrying until SIGTERM. orchd then looks the id up and stops the run nobody follows."""
    from orchestrator.fakecursor.scenario import DropRule, TimeWindow

    scenario = SCENARIO.model_copy(
        update={
            "drops": DropRule(
                after_handling=True,
                paths=["/v1/agents"],
                methods=["POST"],
                windows=[TimeWindow(start_s=0, end_s=10**6)],
            )
        }
    )
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    ran = await run_on_fake(p, scenario, tmp_path, abort_at_s=5)
    assert ran.outcome.status is ReleaseStatus.ABORTED
    assert ran.stats["cancels_per_fu"] == {"FU-1": 1}  # the orphan's run was stopped
    assert ran.stats["agents_total"] == 1
    assert ran.stats["active_agents_now"] == 0  # and its account slot given back


async def test_an_abort_gives_the_running_agents_account_slots_back(tmp_path: Path) -> None:
    """An aborted agent holds one of the account's active-agent slots until archived (issue 9
    §4): the abort cancels its run and archives it, so the next release is not refused."""
    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1", "FU-2"])])
    ran = await run_on_fake(p, SCENARIO, tmp_path, abort_at_s=60)
    assert ran.outcome.status is ReleaseStatus.ABORTED
    assert ran.stats["cancels_per_fu"] == {"FU-1": 1, "FU-2": 1}
    assert ran.stats["agents_total"] == 2
    assert ran.stats["active_agents_now"] == 0
