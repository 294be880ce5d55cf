"""Batch gate, human decisions and checkpoints, end to end on fake time against the fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator.adapters import status_store
from orchestrator.engine.deciders import Answer, Question
from orchestrator.engine.settings import EngineSettings, GateSettings
from orchestrator.fakecursor.scenario import CreateError, FuBehaviour, Scenario
from orchestrator.models.gate import GateStep, GateTestResult, GateTestStatus
from orchestrator.models.release import Checkpoint, IntegrationTest, Priority, ReleasePlan
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import run_on_fake, settings
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0


@dataclass
class ScriptedDecider:
    """Answers questions in order, after `delay_s` of (fake) thinking; records what it saw."""

    answers: list[Answer]
    delay_s: float = 0.0
    deadline_s: float | None = None
    asked: list[tuple[Question, float]] = field(default_factory=list)

    def awaits(self, kind: str) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        self.asked.append((question, anyio.current_time()))
        await anyio.sleep(self.delay_s)
        return self.answers.pop(0)


@dataclass
class ScriptedGate:
    """Fails the first `fail_times` runs of the listed batches' gates, then passes."""

    fail_times: int = 0
    fail_batches: tuple[str, ...] = ("0",)
    runs: list[tuple[str, tuple[str, ...], Mapping[str, str]]] = field(default_factory=list)

    async def __call__(
        self,
        steps: Sequence[GateStep],
        *,
        workdir: Path,
        env: Mapping[str, str],
        timeout_s: float,
        log_path: Path,
    ) -> list[GateTestResult]:
        batch = env["ORCHD_BATCH_ID"]
        self.runs.append((batch, tuple(s.test_id for s in steps), dict(env)))
        failed = batch in self.fail_batches and (
            sum(1 for b, _, _ in self.runs if b == batch) <= self.fail_times
        )
        results = []
        for step in steps:
            if step.command is None:
                results.append(
                    GateTestResult(step.test_id, GateTestStatus.NOT_RUN, log=str(log_path))
                )
            else:
                status = GateTestStatus.FAILED if failed else GateTestStatus.PASSED
                results.append(GateTestResult(step.test_id, status, 1.0, 1, str(log_path)))
        return results


@dataclass
class Recorder:
    messages: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def notify(self, event: str, text: str, **fields: Any) -> None:
        self.messages.append((event, text, fields))


def two_batch_plan(**extra: Any) -> ReleasePlan:
    return plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1"), fu("FU-4")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3", "FU-4"])],
        **extra,
    )


def with_tests(p: ReleasePlan, tests: Sequence[IntegrationTest]) -> ReleasePlan:
    return p.model_copy(update={"integration_tests": tuple(tests)})


def gated(gate: ScriptedGate, **kw: Any) -> EngineSettings:
    return settings(gate=GateSettings(runner=gate, **kw))


IT1 = IntegrationTest(id="IT-001", name="ingest", batches=(Decimal(0),), command="t/ingest.ts")


async def test_failing_tests_block_the_batch_and_retry_reruns_them(tmp_path: Path) -> None:
    gate = ScriptedGate(fail_times=1)
    decider = ScriptedDecider([Answer("retry", by="ops")])
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(
        with_tests(two_batch_plan(), [IT1]),
        scenario,
        tmp_path,
        engine=gated(gate),
        decider=decider,
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    question = decider.asked[0][0]
    assert (question.kind, question.batch_id) == ("batch_failure", Decimal(0))
    assert "IT-001 failed" in question.reason
    assert [b for b, _, _ in gate.runs].count("0") == 2
    # every FU had completed: a plain retry re-runs the tests without relaunching agents
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1, "FU-3": 1, "FU-4": 1}
    batch0 = ran.status["batches"][0]
    assert batch0["gate"]["status"] == "passed"
    assert ran.status["decisions"][0]["action"] == "retry"
    assert ran.status["errors"][0]["message"].startswith("batch 0 failed: integration tests")
    # the gate's environment names the batch and the branches its agents pushed
    env = gate.runs[0][2]
    assert env["ORCHD_RELEASE_ID"] == "v9.9.9"
    assert len(env["ORCHD_FU_BRANCHES"].split()) == 2


async def test_retry_all_relaunches_every_fu_of_the_batch(tmp_path: Path) -> None:
    gate = ScriptedGate(fail_times=1)
    decider = ScriptedDecider([Answer("retry", by="ops", all_fus=True)])
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(
        with_tests(two_batch_plan(), [IT1]),
        scenario,
        tmp_path,
        engine=gated(gate),
        decider=decider,
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.stats["launches_per_fu"]["FU-1"] == 2
    assert ran.stats["launches_per_fu"]["FU-2"] == 2
    assert ran.fu("FU-1")["attempts"] == 2


async def test_an_escalated_fu_cancels_its_running_siblings_and_retry_succeeds(
    tmp_path: Path,
) -> None:
    decider = ScriptedDecider([Answer("retry", by="ops")], delay_s=5 * MIN)
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=30 * MIN),
        fus={
            "FU-1": FuBehaviour(
                create_error=CreateError(
                    status=403, code="repository_access", message="no access", times=1
                )
            )
        },
    )
    ran = await run_on_fake(two_batch_plan(), scenario, tmp_path, decider=decider)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    # FU-2 was running when FU-1 escalated: cancelled, then relaunched by the retry
    assert ran.stats["cancels_per_fu"] == {"FU-2": 1}
    assert ran.stats["launches_per_fu"]["FU-2"] == 2
    assert ran.fu("FU-1")["attempts"] == 2
    assert "FU-1 needs_human" in decider.asked[0][0].reason


async def test_skip_defers_the_batch_and_blocks_only_its_dependants(tmp_path: Path) -> None:
    decider = ScriptedDecider([Answer("skip", by="ops", reason="ship without it")])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(final_status="ERROR"), "FU-2": FuBehaviour(duration_s=30 * MIN)},
    )
    p = two_batch_plan()
    p = p.model_copy(
        update={
            "feature_units": tuple(
                u.model_copy(update={"priority": Priority.P2}) if u.id == "FU-1" else u
                for u in p.feature_units
            )
        }
    )
    ran = await run_on_fake(p, scenario, tmp_path, decider=decider)
    assert ran.fu("FU-1")["status"] == "deferred"
    assert ran.fu("FU-2")["status"] == "deferred"  # cancelled with its batch, then deferred
    assert ran.fu("FU-3")["status"] == "blocked"
    assert ran.fu("FU-4")["status"] == "completed"
    assert ran.status["batches"][0]["status"] == "skipped"
    assert "FU-3" not in ran.stats["launches_per_fu"]
    assert ran.outcome.status is ReleaseStatus.FAILED  # FU-3 could not run


async def test_abort_decision_cancels_everything(tmp_path: Path) -> None:
    gate = ScriptedGate(fail_times=5)
    decider = ScriptedDecider([Answer("abort", by="ops")])
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-4": FuBehaviour(duration_s=120 * MIN)},
    )
    ran = await run_on_fake(
        with_tests(two_batch_plan(), [IT1]),
        scenario,
        tmp_path,
        engine=gated(gate),
        decider=decider,
    )
    assert ran.outcome.status is ReleaseStatus.ABORTED
    assert ran.status["orchestrator"]["status"] == "aborted"
    assert ran.fu("FU-4")["status"] == "cancelled"
    # FU-4 was running when the abort came; FU-3 never launched: its dependency FU-1 was
    # delivered, but its batch never landed (the gate failed)
    assert ran.stats["cancels_per_fu"] == {"FU-4": 1}
    assert "FU-3" not in ran.stats["launches_per_fu"]


async def test_a_test_without_a_command_is_shown_as_not_run_and_blocks_only_when_strict(
    tmp_path: Path,
) -> None:
    no_cmd = IntegrationTest(id="IT-009", name="manual", batches=(Decimal(0),), command=None)
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=MIN))
    p = with_tests(two_batch_plan(), [no_cmd])
    lenient = await run_on_fake(p, scenario, tmp_path / "a", engine=gated(ScriptedGate()))
    assert lenient.outcome.status is ReleaseStatus.COMPLETED
    gate0 = lenient.status["batches"][0]["gate"]
    assert gate0 == {
        "status": "no_tests",  # shown as "passed (no tests ran)", never as a plain pass
        "tests": [
            {
                "id": "IT-009",
                "status": "not_run",
                "duration_s": 0.0,
                "log": gate0["tests"][0]["log"],
            }
        ],
    }
    strict = await run_on_fake(
        p,
        scenario,
        tmp_path / "b",
        engine=gated(ScriptedGate(), strict=True),
        decider=ScriptedDecider([Answer("abort", by="ops")]),
    )
    assert strict.outcome.status is ReleaseStatus.ABORTED
    assert strict.status["batches"][0]["gate"]["status"] == "failed"


async def test_checkpoint_holds_later_batches_until_continue(tmp_path: Path) -> None:
    decider = ScriptedDecider([Answer("continue", by="ops")], delay_s=30 * MIN)
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    p = two_batch_plan().model_copy(
        update={"checkpoints": (Checkpoint(name="review", after_batch=Decimal(0)),)}
    )
    recorder = Recorder()
    ran = await run_on_fake(p, scenario, tmp_path, decider=decider, notifier=recorder)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    question, _ = decider.asked[0]
    assert question.kind == "checkpoint"
    runs = {r["fu_id"]: r for r in ran.stats["runs"]}
    # FU-4 does not depend on batch 0, yet waits for the review (10 min work + 30 min review)
    assert runs["FU-4"]["created_s"] >= 40 * MIN
    events = [m[0] for m in recorder.messages]
    assert events.count("checkpoint.reached") == 1
    assert events.count("release.finished") == 1


async def test_one_notification_per_event(tmp_path: Path) -> None:
    recorder = Recorder()
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=MIN),
        fus={
            "FU-1": FuBehaviour(
                create_error=CreateError(status=403, code="repository_access", message="no access")
            )
        },
    )
    ran = await run_on_fake(
        two_batch_plan(),
        scenario,
        tmp_path,
        decider=ScriptedDecider([Answer("skip", by="ops")]),
        notifier=recorder,
    )
    events = [m[0] for m in recorder.messages]
    assert events == ["fu.escalated", "batch.failed", "release.finished"]
    assert "FU-1" in recorder.messages[0][1]
    assert ran.outcome.status is ReleaseStatus.FAILED


async def test_awaiting_decision_is_visible_in_the_status_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    awaiting_written = asyncio.Event()
    write = status_store.write_atomic

    def write_and_tell(path: Path, data: bytes) -> None:  # in the writer's worker thread
        write(path, data)
        if b'"awaiting_decision"' in data:
            loop.call_soon_threadsafe(awaiting_written.set)

    monkeypatch.setattr(status_store, "write_atomic", write_and_tell)

    @dataclass
    class Peek(ScriptedDecider):
        async def ask(self, question: Question) -> Answer:
            with anyio.fail_after(60):  # fake seconds: the writer flushes at once
                await awaiting_written.wait()
            seen.append(json.loads((tmp_path / "agent_status.json").read_text()))
            return await super().ask(question)

    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=MIN),
        fus={"FU-2": FuBehaviour(final_status="EXPIRED")},
    )
    p = two_batch_plan()
    p = p.model_copy(
        update={
            "feature_units": tuple(
                u.model_copy(update={"priority": Priority.P2}) if u.id == "FU-2" else u
                for u in p.feature_units
            )
        }
    )
    await run_on_fake(p, scenario, tmp_path, decider=Peek([Answer("skip", by="ops")]))
    awaiting = seen[0]["orchestrator"]["awaiting"]
    assert awaiting["kind"] == "batch_failure"
    assert awaiting["batch_id"] == 0
    assert awaiting["choices"] == ["retry", "fix", "skip", "abort"]
    assert seen[0]["batches"][0]["status"] == "awaiting_decision"


async def test_a_restart_does_not_rerun_tests_that_passed(tmp_path: Path) -> None:
    from orchestrator.models.status import StatusFile

    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=MIN))
    p = with_tests(two_batch_plan(), [IT1])
    first_gate = ScriptedGate()
    first = await run_on_fake(p, scenario, tmp_path, engine=gated(first_gate))
    assert [b for b, _, _ in first_gate.runs] == ["0", "full"]
    again_gate = ScriptedGate()
    again = await run_on_fake(
        p,
        scenario,
        tmp_path,
        engine=gated(again_gate),
        existing=StatusFile.model_validate(first.status),
    )
    assert again.outcome.status is ReleaseStatus.COMPLETED
    assert again_gate.runs == []  # the batch's tests and the full suite passed before
    assert again.stats["launches_per_fu"] == {}


async def test_a_restart_does_not_ask_again_at_a_checkpoint_already_passed(
    tmp_path: Path,
) -> None:
    from orchestrator.models.status import StatusFile

    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    p = two_batch_plan().model_copy(
        update={"checkpoints": (Checkpoint(name="review", after_batch=Decimal(0)),)}
    )
    first = await run_on_fake(
        p,
        scenario,
        tmp_path,
        decider=ScriptedDecider([Answer("continue", by="ops")]),
        abort_at_s=25 * MIN,
    )
    assert [d["kind"] for d in first.status["decisions"]] == ["checkpoint"]
    again = ScriptedDecider([])
    ran = await run_on_fake(
        p, scenario, tmp_path, existing=StatusFile.model_validate(first.status), decider=again
    )
    assert again.asked == []
    assert ran.outcome.status is ReleaseStatus.COMPLETED


async def test_a_git_failure_while_landing_is_a_question_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remote went away (or refused a push) while batch 0 landed: a person is asked
    (retry once it is back), never a traceback that leaves the release `running`."""
    from orchestrator.adapters.git import GitError
    from orchestrator.engine.landing import Lander

    real_land = Lander.land
    calls: list[Decimal] = []

    async def flaky_land(self: Lander, batch_id: Decimal, branches: list[str]) -> Any:
        calls.append(batch_id)
        if len(calls) == 1:
            raise GitError(["push"], 128, "fatal: unable to access remote", "git push failed")
        return await real_land(self, batch_id, branches)

    monkeypatch.setattr(Lander, "land", flaky_land)
    decider = ScriptedDecider([Answer("retry", by="ops")])
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(two_batch_plan(), scenario, tmp_path, decider=decider)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    question = decider.asked[0][0]
    assert (question.kind, question.batch_id) == ("batch_failure", Decimal(0))
    assert question.reason.startswith("landing failed: git push failed")
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1, "FU-3": 1, "FU-4": 1}
