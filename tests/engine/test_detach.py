"""Detach (issue 10 §4): orchd stops supervising and leaves every agent running; the status file
says `detached` and keeps each run, and the next start adopts them all without a new agent.

On fake time against the in-process fake Cursor; the whole-process path (SIGUSR1 via
`orchd detach`) is in tests/e2e/test_detach_process.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator.engine.deciders import Answer, Question
from orchestrator.engine.settings import GateSettings
from orchestrator.fakecursor.app import FakeCursor
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.gate import GateStep, GateTestResult, GateTestStatus
from orchestrator.models.status import ReleaseStatus, StatusFile
from tests.engine.harness import API_KEY, Ran, run_on_fake, settings
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
SCENARIO = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=60 * MIN))


def _fake(scenario: Scenario = SCENARIO) -> FakeCursor:
    """One fake for both runs: the second finds the agents the first left running."""
    return FakeCursor(scenario, api_key=API_KEY, clock=asyncio.get_running_loop().time)


def _agent_calls(ran: Ran, *suffixes: str) -> list[str]:
    """Requests the fake saw whose path ends in one of `suffixes` (cancel, archive)."""
    return [r["path"] for r in ran.fake.requests() if r["path"].endswith(suffixes)]


async def test_a_detach_leaves_every_agent_running_and_the_next_start_adopts_them(
    tmp_path: Path,
) -> None:
    p = plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3"])],
    )
    fake = _fake()
    first = await run_on_fake(p, SCENARIO, tmp_path, detach_at_s=10 * MIN, fake=fake)

    assert first.outcome.status is ReleaseStatus.DETACHED
    assert first.status["orchestrator"]["status"] == "detached"
    # nothing was cancelled or archived: both agents still hold their runs on Cursor
    assert first.stats["cancels_per_fu"] == {}
    assert _agent_calls(first, "/cancel", "/archive") == []
    runs = {r["fu_id"]: r for r in first.stats["runs"]}
    assert {fu_id: r["status"] for fu_id, r in runs.items()} == {
        "FU-1": "RUNNING",
        "FU-2": "RUNNING",
    }
    assert first.stats["active_agents_now"] == 2
    # the file keeps each run for the next start; FU-3 never started and stays pending
    for fu_id in ("FU-1", "FU-2"):
        entry = first.fu(fu_id)
        assert entry["status"] == "running", entry
        assert entry["run_id"] == runs[fu_id]["run_id"]
        assert entry["error"] is None
    assert first.fu("FU-3")["status"] == "pending"

    again = await run_on_fake(
        p, SCENARIO, tmp_path, existing=StatusFile.model_validate(first.status), fake=fake
    )
    assert again.outcome.status is ReleaseStatus.COMPLETED
    # the running agents were followed to their end, not launched again
    assert again.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1, "FU-3": 1}
    assert again.stats["cancels_per_fu"] == {}
    for fu_id in ("FU-1", "FU-2"):
        assert again.fu(fu_id)["worker_agent_id"] == first.fu(fu_id)["worker_agent_id"]
        assert again.fu(fu_id)["run_id"] == runs[fu_id]["run_id"]
    assert again.status["orchestrator"]["status"] == "completed"


async def test_a_detach_says_where_the_agents_are_left_and_how_to_adopt_them(
    tmp_path: Path,
) -> None:
    @dataclass
    class Heard:
        messages: list[tuple[str, str]] = field(default_factory=list)

        def notify(self, event: str, text: str, **fields: Any) -> None:
            self.messages.append((event, text))

    heard = Heard()
    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1", "FU-2"])])
    await run_on_fake(p, SCENARIO, tmp_path, detach_at_s=10 * MIN, notifier=heard)
    assert heard.messages[-1] == (
        "release.detached",
        "v9.9.9: orchd detached; 2 agent(s) keep running (FU-1, FU-2); "
        "`orchd start v9.9.9` adopts them",
    )


@dataclass
class SlowFirstGate:
    """The first gate run takes an hour (the detach lands in it); later runs pass at once."""

    runs: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(
        self,
        steps: Sequence[GateStep],
        *,
        workdir: Path,
        env: Mapping[str, str],
        timeout_s: float,
        log_path: Path,
    ) -> list[GateTestResult]:
        run = {"batch": env["ORCHD_BATCH_ID"], "ended": "passed"}
        self.runs.append(run)
        if len(self.runs) == 1:
            try:
                await anyio.sleep(60 * MIN)
            except anyio.get_cancelled_exc_class():
                run["ended"] = "stopped"
                raise
        return [GateTestResult(s.test_id, GateTestStatus.PASSED, 0.1, 0) for s in steps]


async def test_a_gate_running_at_the_detach_is_stopped_and_its_batch_gated_again_on_start(
    tmp_path: Path,
) -> None:
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    gate = SlowFirstGate()
    engine = settings(gate=GateSettings(runner=gate, release_command="true"))
    p = plan([fu("FU-1"), fu("FU-2", "FU-1")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    fake = _fake(scenario)
    first = await run_on_fake(p, scenario, tmp_path, engine=engine, detach_at_s=30 * MIN, fake=fake)
    assert first.outcome.status is ReleaseStatus.DETACHED
    assert gate.runs == [{"batch": "0", "ended": "stopped"}]
    assert first.status["batches"][0]["status"] == "gating"

    again = await run_on_fake(
        p,
        scenario,
        tmp_path,
        engine=engine,
        existing=StatusFile.model_validate(first.status),
        fake=fake,
    )
    assert again.outcome.status is ReleaseStatus.COMPLETED
    assert [r["batch"] for r in gate.runs] == ["0", "0", "1", "full"]
    assert again.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1}


@dataclass
class Human:
    """Answers after `delay_s` of (fake) time: far beyond the detach, or at once."""

    answers: list[Answer]
    delay_s: float = 0.0
    deadline_s: float | None = None
    asked: list[Question] = field(default_factory=list)

    def awaits(self, kind: str) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        self.asked.append(question)
        await anyio.sleep(self.delay_s)
        return self.answers.pop(0)


async def test_a_restart_after_a_detach_while_a_human_was_asked_asks_again_and_launches_nothing(
    tmp_path: Path,
) -> None:
    """Upgrading orchd while it waits for `orchd decide`: the new orchd asks the same question
    and does what the answer says; it does not relaunch the escalated FU on its own."""
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=60 * MIN),
        fus={"FU-2": FuBehaviour(duration_s=5 * MIN, final_status="ERROR")},
    )
    p = plan([fu("FU-1"), fu("FU-2", priority="P2")], [("0", ["FU-1", "FU-2"])])
    fake = _fake(scenario)
    away = Human([Answer("retry", by="ops")], delay_s=1000 * MIN)
    first = await run_on_fake(p, scenario, tmp_path, detach_at_s=30 * MIN, fake=fake, decider=away)
    assert first.outcome.status is ReleaseStatus.DETACHED
    assert first.status["batches"][0]["status"] == "awaiting_decision"
    assert first.fu("FU-2")["status"] == "needs_human"
    launched = dict(first.stats["launches_per_fu"])

    back = Human([Answer("skip", by="ops")])
    again = await run_on_fake(
        p,
        scenario,
        tmp_path,
        existing=StatusFile.model_validate(first.status),
        fake=fake,
        decider=back,
    )
    assert [(q.kind, q.reason) for q in back.asked] == [
        ("batch_failure", f"FU-2 needs_human: {first.fu('FU-2')['error']}")
    ]
    assert again.stats["launches_per_fu"] == launched  # nothing launched before the answer
    assert again.fu("FU-2")["status"] == "deferred"
    failed = [e for e in again.status["errors"] if e["message"].startswith("batch 0 failed")]
    assert len(failed) == 1  # the same failure, asked about again, is not recorded twice
