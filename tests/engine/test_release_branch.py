"""The release branch (issue 8), on fake time against the in-process fake over real git.

The remote is a local bare repo seeded with a tiny project; the fake's agents really clone,
commit and push; the gate really runs the project's tests in orchd's worktree of the candidate
(blocking, so no simulated time passes while it runs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.release_loader import load_release
from orchestrator.core.scheduling import all_prerequisites
from orchestrator.engine.deciders import Answer, Decider, PolicyDecider, Question
from orchestrator.engine.settings import EngineSettings, GateSettings
from orchestrator.fakecursor.scenario import FuBehaviour, Scenario
from orchestrator.models.gate import GateStep, GateTestResult, GateTestStatus
from orchestrator.models.release import ReleasePlan
from orchestrator.models.status import ReleaseStatus
from tests.engine.harness import Ran, origin_in, remote_git, run_on_fake, settings
from tests.plans import fu, plan

pytestmark = [pytest.mark.asyncio, pytest.mark.looptime]

MIN = 60.0
HOUR = 3600.0


@dataclass
class ProjectGate:
    """Runs the seed project's `tests/run.sh` in the gate's worktree; records what it gated."""

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
        code = _project_tests(workdir, log_path)
        passed = code == 0
        self.runs.append(
            {
                "batch": env["ORCHD_BATCH_ID"],
                "sha": env["ORCHD_GATE_SHA"],
                "base": env["ORCHD_BASE_SHA"],
                "passed": passed,
                "files": sorted(p.name for p in (workdir / "fu").glob("*.md")),
                "cwd": str(workdir),
            }
        )
        status = GateTestStatus.PASSED if passed else GateTestStatus.FAILED
        return [GateTestResult(s.test_id, status, 0.1, code, str(log_path)) for s in steps]


def _project_tests(workdir: Path, log_path: Path) -> int:
    """Blocking on purpose: the event loop (and so simulated time) stands still meanwhile."""
    done = subprocess.run(
        ["sh", "tests/run.sh"], cwd=workdir, capture_output=True, text=True, check=False
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text(done.stdout + done.stderr)
    return done.returncode


def gated(gate: ProjectGate, **kw: Any) -> EngineSettings:
    return settings(gate=GateSettings(runner=gate, release_command="sh tests/run.sh"), **kw)


def first_parent_fus(origin: str, branch: str) -> list[str]:
    """`Orchd-FU` trailers on the release branch's first-parent line, oldest first."""
    out = remote_git(
        origin,
        "log",
        "--first-parent",
        "--reverse",
        "--format=%(trailers:key=Orchd-FU,valueonly,separator=)",
        branch,
    )
    return [line for line in out.splitlines() if line]


def branch_history(origin: str, branch: str) -> list[str]:
    """Every value the remote's branch ever had (its reflog), newest first."""
    return remote_git(origin, "reflog", "show", "--format=%H", f"refs/heads/{branch}").split()


def recorded_origin(tmp_path: Path) -> str:
    """The seeded remote, keeping a reflog of every ref update (bare repos do not by default)."""
    origin = origin_in(tmp_path)
    remote_git(origin, "config", "core.logAllRefUpdates", "always")
    return origin


def is_ancestor(origin: str, a: str, b: str) -> bool:
    path = origin.removeprefix("file://")
    done = subprocess.run(["git", "--git-dir", path, "merge-base", "--is-ancestor", a, b])
    return done.returncode == 0


def demo_plan(tmp_path: Path) -> ReleasePlan:
    with resources.as_file(resources.files("orchestrator").joinpath("data/demo")) as src:
        shutil.copytree(src, tmp_path / "repo")
    return load_release("v0.1.0", repo_root=tmp_path / "repo")


async def test_neotoma_v010_lands_every_fu_once_on_a_branch_that_only_held_gated_commits(
    tmp_path: Path,
) -> None:
    p = demo_plan(tmp_path)
    origin = recorded_origin(tmp_path)
    gate = ProjectGate()
    scenario = Scenario(defaults=FuBehaviour(creating_s=2 * MIN, duration_s=HOUR))
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(gate))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    branch = "release/v0.1.0"
    assert ran.status["integration_branch"] == branch
    head = remote_git(origin, "rev-parse", branch)
    assert ran.status["integration_sha"] == head
    # one --no-ff merge per FU on the first-parent line
    fus = first_parent_fus(origin, branch)
    assert sorted(fus) == sorted(u.id for u in p.feature_units)
    assert len(fus) == len(set(fus)) == 28
    # the branch only ever pointed at the base and at commits whose gate passed
    gated_ok = {r["sha"] for r in gate.runs if r["passed"]}
    history = branch_history(origin, branch)
    assert history[-1] == remote_git(origin, "rev-parse", "main")
    assert set(history[:-1]) <= gated_ok
    # every FU started from its dependencies' work: the landed merge of a dependency in an
    # earlier batch, the dependency's pushed branch for one in the same batch
    for unit in p.feature_units:
        mine = ran.fu(unit.id)
        assert mine["status"] == "completed"
        assert (
            mine["merge_commit"] in remote_git(origin, "rev-list", "--first-parent", branch).split()
        )
        for dep in all_prerequisites(p)[unit.id]:
            theirs = ran.fu(dep)
            if p.batch_of(dep) == p.batch_of(unit.id):
                assert is_ancestor(origin, theirs["delivered_sha"], mine["base_sha"]), (unit, dep)
            else:
                assert is_ancestor(origin, theirs["merge_commit"], mine["base_sha"]), (unit, dep)
    # the gate ran in orchd's worktree of the candidate, never in a checkout of the user's
    assert all(str(tmp_path / "state") in r["cwd"] for r in gate.runs)
    assert not list((tmp_path / "state" / "worktrees").rglob("*.md"))  # worktrees removed
    # candidates were scratch refs: none is left on the remote once their batch landed
    assert remote_git(origin, "for-each-ref", "refs/heads/orchd/") == ""


async def test_a_dependant_in_a_later_batch_starts_only_after_its_dependency_landed(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1"), fu("FU-2", "FU-1")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    origin = recorded_origin(tmp_path)
    gate = ProjectGate()
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(gate))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    fu1, fu2 = ran.fu("FU-1"), ran.fu("FU-2")
    assert fu2["base_sha"] == ran.status["batches"][0]["landed_sha"]
    assert is_ancestor(origin, fu1["merge_commit"], fu2["base_sha"])
    runs = {r["fu_id"]: r for r in ran.stats["runs"]}
    batch0_gate = next(r for r in gate.runs if r["batch"] == "0")
    assert batch0_gate["files"] == ["FU-1.md"]
    assert runs["FU-2"]["created_s"] >= runs["FU-1"]["ended_s"]
    # the agent was told where it starts, and that FU-1 is in it
    prompt = next(a for a in ran.fake.git_report()["agents"] if a["fu"] == "FU-2")
    assert prompt["startingRef"] == fu2["base_sha"]


async def test_a_forced_conflict_goes_back_to_the_agent_and_then_lands(tmp_path: Path) -> None:
    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1", "FU-2"])])
    origin = recorded_origin(tmp_path)
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN, git_edit="conflict"),
        fus={"FU-2": FuBehaviour(duration_s=20 * MIN)},
    )
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(ProjectGate()))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.fu("FU-2")["conflict_rounds"] == 1
    assert ran.fu("FU-1")["conflict_rounds"] == 0
    assert first_parent_fus(origin, "release/v9.9.9") == ["FU-1", "FU-2"]
    shared = remote_git(origin, "show", "release/v9.9.9:shared/conflict.txt")
    assert "FU-1" in shared
    assert "FU-2" in shared  # the agent resolved by keeping both
    # the follow-up named the exact commit to merge and the file
    agent = next(a for a in ran.fake.git_report()["agents"] if a["fu"] == "FU-2")
    follow_up = agent["runs"][1]["prompt"]
    assert "shared/conflict.txt" in follow_up
    assert agent["runs"][1]["merged"]
    assert agent["runs"][1]["merged"][0] in follow_up
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 2}  # one agent, two runs


async def test_a_conflict_past_the_cap_needs_a_human_naming_the_files(tmp_path: Path) -> None:
    p = plan([fu("FU-1"), fu("FU-2", priority="P2")], [("0", ["FU-1", "FU-2"])])
    origin = recorded_origin(tmp_path)
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN, git_edit="conflict"),
        fus={"FU-2": FuBehaviour(duration_s=20 * MIN, resolve_conflicts="give_up")},
    )
    ran = await run_on_fake(
        p,
        scenario,
        tmp_path,
        engine=gated(ProjectGate()),
        decider=PolicyDecider(on_batch_failure="fail"),
    )
    assert ran.outcome.status is ReleaseStatus.FAILED
    fu2 = ran.fu("FU-2")
    assert fu2["status"] == "needs_human"
    assert "shared/conflict.txt" in fu2["error"]
    assert fu2["conflict_rounds"] == 3  # two rounds sent back, the third escalates
    assert ran.stats["launches_per_fu"]["FU-2"] == 3  # first run + 2 conflict rounds
    # nothing of the batch landed: the release branch is still the base
    assert remote_git(origin, "rev-parse", "release/v9.9.9") == remote_git(
        origin, "rev-parse", "main"
    )


def _broken_batch_plan() -> ReleasePlan:
    return plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1"), fu("FU-4")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3", "FU-4"])],
    )


def _breaks(fu_id: str) -> Scenario:
    return Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={fu_id: FuBehaviour(git_edit="break_tests", fix_on_follow_up=False)},
    )


async def _run_broken(tmp_path: Path, decider: Decider) -> tuple[str, Ran]:
    """Batch 0's FU-2 breaks the project's tests: its gate fails; `decider` answers."""
    origin = recorded_origin(tmp_path)
    engine = gated(ProjectGate())
    ran = await run_on_fake(
        _broken_batch_plan(), _breaks("FU-2"), tmp_path, engine=engine, decider=decider
    )
    return origin, ran


async def test_skip_after_a_failed_gate_lands_nothing_of_the_batch_and_never_launches_dependants(
    tmp_path: Path,
) -> None:
    origin, ran = await _run_broken(tmp_path, PolicyDecider(on_batch_failure="skip"))
    # FU-3 is blocked by the deferral (no human deferred it): not a completed release
    assert ran.outcome.status is ReleaseStatus.FAILED
    assert ran.fu("FU-1")["status"] == "deferred"
    assert ran.fu("FU-2")["status"] == "deferred"
    assert ran.fu("FU-2")["delivered_branch"] in ran.fu("FU-2")["error"]
    assert ran.fu("FU-3")["status"] == "blocked"
    assert "FU-3" not in ran.stats["launches_per_fu"]
    assert ran.fu("FU-4")["status"] == "completed"
    landed = first_parent_fus(origin, "release/v9.9.9")
    assert landed == ["FU-4"]
    assert ran.status["batches"][0]["status"] == "skipped"
    # the deferred branches are kept on the remote for a human
    assert remote_git(origin, "rev-parse", ran.fu("FU-2")["delivered_branch"])


async def test_fail_mode_ends_the_release_failed_and_lands_nothing_of_the_batch(
    tmp_path: Path,
) -> None:
    origin, ran = await _run_broken(tmp_path, PolicyDecider(on_batch_failure="fail"))
    assert ran.outcome.status is ReleaseStatus.FAILED
    assert "FU-1" not in first_parent_fus(origin, "release/v9.9.9")
    assert "FU-3" not in ran.stats["launches_per_fu"]
    assert ran.status.get("full_suite") is None  # never run on a release that failed


@dataclass
class FixingHuman:
    """Answers `retry` after pushing a fix to the FU's branch, as a person would."""

    origin: str
    workdir: Path
    fu_id: str
    asked: list[Question] = field(default_factory=list)
    deadline_s: float | None = None

    def awaits(self, kind: str) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        self.asked.append(question)
        _push_fix(self.origin, self.workdir / f"fix-{len(self.asked)}", self.fu_id)
        return Answer("retry", by="human")


def _push_fix(origin: str, clone: Path, fu_id: str) -> None:
    """Clone the FU's branch, take the breaking line out of the test script, push."""
    report = subprocess.run(
        ["git", "--git-dir", origin.removeprefix("file://"), "branch", "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    branch = next(b.strip() for b in report.splitlines() if fu_id.lower() in b and "cursor/" in b)
    ident = {"GIT_AUTHOR_NAME": "h", "GIT_AUTHOR_EMAIL": "h@x", "GIT_COMMITTER_NAME": "h"}
    env = os.environ | ident | {"GIT_COMMITTER_EMAIL": "h@x"}
    subprocess.run(["git", "clone", "-q", "-b", branch, origin, str(clone)], check=True)
    script = clone / "tests" / "run.sh"
    kept = [line for line in script.read_text().splitlines() if "broken by" not in line]
    script.write_text("\n".join(kept) + "\n")
    for args in (["commit", "-qam", "fix the test script"], ["push", "-q", "origin", branch]):
        subprocess.run(["git", "-C", str(clone), *args], check=True, env=env)


@dataclass
class Answers:
    """Answers in order; records the questions."""

    answers: list[Answer]
    asked: list[Question] = field(default_factory=list)
    deadline_s: float | None = None

    def awaits(self, kind: str) -> bool:
        return True

    async def ask(self, question: Question) -> Answer:
        self.asked.append(question)
        return self.answers.pop(0)


async def test_retry_after_a_fix_pushed_to_the_fu_branch_rebuilds_the_candidate_and_lands(
    tmp_path: Path,
) -> None:
    origin = recorded_origin(tmp_path)
    gate = ProjectGate()
    human = FixingHuman(origin, tmp_path, "FU-2")
    ran = await run_on_fake(
        _broken_batch_plan(), _breaks("FU-2"), tmp_path, engine=gated(gate), decider=human
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert len(human.asked) == 1
    assert "integration tests failed" in human.asked[0].reason
    batch0 = [r for r in gate.runs if r["batch"] == "0"]
    assert [r["passed"] for r in batch0] == [False, True]
    assert batch0[0]["sha"] != batch0[1]["sha"]  # rebuilt from the fixed branch
    assert sorted(first_parent_fus(origin, "release/v9.9.9")) == ["FU-1", "FU-2", "FU-3", "FU-4"]
    assert set(branch_history(origin, "release/v9.9.9")[:-1]) <= {
        r["sha"] for r in gate.runs if r["passed"]
    }
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 1, "FU-3": 1, "FU-4": 1}


async def test_fix_sends_the_failing_log_to_the_agents_which_push_a_fix_that_lands(
    tmp_path: Path,
) -> None:
    origin = recorded_origin(tmp_path)
    gate = ProjectGate()
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-2": FuBehaviour(git_edit="break_tests")},  # fixes itself on a follow-up
    )
    ran = await run_on_fake(
        _broken_batch_plan(),
        scenario,
        tmp_path,
        engine=gated(gate),
        decider=Answers([Answer("fix", by="ops")]),
    )
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    agent = next(a for a in ran.fake.git_report()["agents"] if a["fu"] == "FU-2")
    fix = agent["runs"][1]["prompt"]
    assert "broken by FU-2" in fix  # the log tail
    assert sorted(first_parent_fus(origin, "release/v9.9.9")) == ["FU-1", "FU-2", "FU-3", "FU-4"]


async def test_a_candidate_rebuilt_on_a_moved_branch_sends_its_new_conflict_to_the_agent(
    tmp_path: Path,
) -> None:
    """Two independent batches deliver together; batch 0 lands first, so batch 1's candidate
    is rebuilt on the new head, where FU-2 conflicts with FU-1: back to FU-2's agent."""
    p = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    origin = recorded_origin(tmp_path)
    gate = ProjectGate()
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN, git_edit="conflict")
    )
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(gate))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert first_parent_fus(origin, "release/v9.9.9") == ["FU-1", "FU-2"]
    assert ran.fu("FU-2")["conflict_rounds"] == 1
    assert ran.stats["launches_per_fu"] == {"FU-1": 1, "FU-2": 2}
    batch1 = ran.status["batches"][1]  # the status file names the candidate that landed
    assert batch1["candidate"] == "orchd/v9.9.9/cand/b1.2"
    assert batch1["candidate_sha"] == batch1["landed_sha"]
    assert set(branch_history(origin, "release/v9.9.9")[:-1]) <= {
        r["sha"] for r in gate.runs if r["passed"]
    }
    shared = remote_git(origin, "show", "release/v9.9.9:shared/conflict.txt")
    assert "FU-1" in shared
    assert "FU-2" in shared


async def test_a_run_that_pushes_no_branch_is_a_failed_attempt_and_is_retried(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    origin = recorded_origin(tmp_path)
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN),
        fus={"FU-1": FuBehaviour(push_nothing_first_runs=1)},
    )
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(ProjectGate()))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.fu("FU-1")["attempts"] == 2
    assert ran.stats["launches_per_fu"] == {"FU-1": 2}
    assert ran.stats["active_agents_now"] == 0  # the failed attempt's agent was archived too
    assert first_parent_fus(origin, "release/v9.9.9") == ["FU-1"]


async def test_an_fu_that_never_pushes_needs_a_human_and_nothing_lands(tmp_path: Path) -> None:
    p = plan([fu("FU-1", priority="P2")], [("0", ["FU-1"])])
    origin = recorded_origin(tmp_path)
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN, git_edit="none"))
    ran = await run_on_fake(p, scenario, tmp_path, decider=PolicyDecider(on_batch_failure="fail"))
    assert ran.outcome.status is ReleaseStatus.FAILED
    assert ran.fu("FU-1")["status"] == "needs_human"
    assert "no branch pushed" in ran.fu("FU-1")["error"]
    assert ran.stats["active_agents_now"] == 0  # escalated: no agent keeps an account slot
    assert first_parent_fus(origin, "release/v9.9.9") == []


async def test_a_humans_retry_after_the_conflict_cap_gives_the_agent_new_rounds(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1"), fu("FU-2", priority="P2")], [("0", ["FU-1", "FU-2"])])
    recorded_origin(tmp_path)
    scenario = Scenario(
        defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN, git_edit="conflict"),
        fus={"FU-2": FuBehaviour(duration_s=20 * MIN, resolve_conflicts="give_up")},
    )
    human = Answers([Answer("retry", by="ops"), Answer("skip", by="ops")])
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(ProjectGate()), decider=human)
    assert len(human.asked) == 2
    assert "shared/conflict.txt" in human.asked[1].reason
    # first run + 2 rounds, then after the retry 2 more rounds on the same agent
    assert ran.stats["launches_per_fu"]["FU-2"] == 5
    assert ran.fu("FU-2")["status"] == "deferred"


@dataclass
class IntrudingGate(ProjectGate):
    """While the first gate runs, someone else pushes a commit to the release branch."""

    origin: str = ""
    workdir: Path = Path()

    async def __call__(
        self,
        steps: Sequence[GateStep],
        *,
        workdir: Path,
        env: Mapping[str, str],
        timeout_s: float,
        log_path: Path,
    ) -> list[GateTestResult]:
        if not self.runs:
            _push_foreign_commit(self.origin, self.workdir / "intruder", "release/v9.9.9")
        return await super().__call__(
            steps, workdir=workdir, env=env, timeout_s=timeout_s, log_path=log_path
        )


def _push_foreign_commit(origin: str, clone: Path, branch: str) -> None:
    ident = {"GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x", "GIT_COMMITTER_NAME": "x"}
    env = os.environ | ident | {"GIT_COMMITTER_EMAIL": "x@x"}
    subprocess.run(["git", "clone", "-q", "-b", branch, origin, str(clone)], check=True)
    (clone / "NOTES.md").write_text("pushed by someone else\n")
    for args in (["add", "NOTES.md"], ["commit", "-qm", "foreign"], ["push", "-q"]):
        subprocess.run(["git", "-C", str(clone), *args], check=True, env=env)


async def test_a_release_branch_moved_during_the_gate_is_never_overwritten(
    tmp_path: Path,
) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    origin = recorded_origin(tmp_path)
    gate = IntrudingGate(origin=origin, workdir=tmp_path)
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN))
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(gate))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    # the first candidate's push was refused; a rebuilt one on the moved head was gated
    batch0 = [r for r in gate.runs if r["batch"] == "0"]
    assert len(batch0) == 2
    assert batch0[1]["base"] != batch0[0]["base"]
    head = remote_git(origin, "rev-parse", "release/v9.9.9")
    assert remote_git(origin, "show", f"{head}:NOTES.md") == "pushed by someone else"
    assert first_parent_fus(origin, "release/v9.9.9") == ["FU-1"]


async def test_v010_with_five_slots_on_an_account_capped_at_three_completes_without_escalation(
    tmp_path: Path,
) -> None:
    p = demo_plan(tmp_path)
    p = p.model_copy(update={"limits": p.limits.model_copy(update={"max_parallel_fus": 5})})
    origin = recorded_origin(tmp_path)
    scenario = Scenario.model_validate(
        {
            "defaults": {"creating_s": 120, "duration_s": HOUR, "tool_calls": 12},
            "active_agent_cap": {"limit": 3},
        }
    )
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(ProjectGate()))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    stats = ran.stats
    assert stats["max_active_agents"] <= 3
    assert stats["cap_refusals"] >= 1  # the cap was really hit, and absorbed
    assert sum(stats["launches_per_fu"].values()) == 28  # no attempt spent on the cap
    assert not [e for e in ran.status["errors"] if "escalated" in e["message"]]
    assert len(first_parent_fus(origin, "release/v0.1.0")) == 28


@pytest.mark.parametrize(
    "cap",
    [
        {"limit": 2, "status": 429, "retry_after_s": 30},
        {
            "limit": 2,
            "code": "plan_required",
            "message": "Your plan allows at most {limit} concurrently active background agents.",
        },
    ],
    ids=["429", "plan-message"],
)
async def test_each_plausible_cap_answer_is_back_pressure_not_a_failure(
    tmp_path: Path, cap: dict[str, Any]
) -> None:
    units = [fu(f"FU-{n}") for n in range(1, 6)]
    p = plan(units, [("0", [u.id for u in units])])
    scenario = Scenario.model_validate(
        {
            "defaults": {"creating_s": 0, "duration_s": 10 * MIN, "tool_calls": 4},
            "active_agent_cap": cap,
        }
    )
    ran = await run_on_fake(p, scenario, tmp_path, engine=gated(ProjectGate()))
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.stats["max_active_agents"] <= 2
    assert ran.stats["cap_refusals"] >= 1
    assert ran.stats["launches_per_fu"] == {u.id: 1 for u in units}


async def test_a_run_that_finished_just_before_its_deadline_is_delivered_not_timed_out(
    tmp_path: Path,
) -> None:
    """Polled every 7 min with a 10 min limit: the last poll saw RUNNING at 7 min, the run
    finished at 9m50s, the deadline fires at 10 min. A re-read finds it FINISHED."""
    p = plan([fu("FU-1", max_minutes=10)], [("0", ["FU-1"])])
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=10 * MIN - 10))
    engine = gated(ProjectGate(), use_stream=False, poll_interval_s=7 * MIN)
    ran = await run_on_fake(p, scenario, tmp_path, engine=engine)
    assert ran.outcome.status is ReleaseStatus.COMPLETED
    assert ran.stats["launches_per_fu"] == {"FU-1": 1}  # no duplicate agent, no second PR
    assert ran.fu("FU-1")["attempts"] == 1


async def test_a_restart_does_not_grant_fresh_retries(tmp_path: Path) -> None:
    """P0 allows 3 retries. Killed after attempt 3 failed, the restart has one attempt left."""
    from tests.engine.harness import status_left_by_a_crash

    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    scenario = Scenario(defaults=FuBehaviour(creating_s=0, duration_s=MIN, final_status="ERROR"))
    crashed = status_left_by_a_crash(p.release_id, "FU-1", attempts=3).model_copy(
        update={"run_nonce": "n0nce"}
    )
    entry = crashed.batches[0].feature_units[0]
    crashed.batches[0].feature_units[0] = entry.model_copy(update={"status": "retrying"})
    ran = await run_on_fake(
        p, scenario, tmp_path, existing=crashed, decider=PolicyDecider(on_batch_failure="fail")
    )
    assert ran.stats["launches_per_fu"] == {"FU-1": 1}  # attempt 4 only
    assert ran.fu("FU-1")["status"] == "needs_human"
    assert "P0 allows 3 retries; 4 attempts failed" in ran.fu("FU-1")["error"]
