"""kill -9 during merge, push and gate: a restarted orchd finishes the release with no FU merged
twice and no duplicate agent.

Real processes over loopback: `orchd fake-cursor` (its agents clone, commit and push to a bare
repo in tmp_path) and `orchd start` with `REPO_URL=file://…`. A trap SIGKILLs orchd at an exact
point: a pre-receive / post-receive hook in the remote on a push to a batch candidate (`merge`:
the push publishing a given FU's merge commit) or to the release branch (`push`: its Nth push),
or the release gate command on its Nth run (`gate`: killed mid-gate, in the candidate's
worktree). Then the same `orchd start` runs again and must finish `completed` from what the
remote and the status file say.

One undisturbed run of the release (see crash_kit.py): FU-101, FU-102 and FU-302 start at once;
FU-302 is merged into batch 3's candidate on the first release head; batch 1 lands (release
push 2, gate 1); FU-201, then FU-202 from the candidate holding FU-201; batch 2 lands (push 3,
gate 2); FU-301; batch 3's candidate is rebuilt on the moved head (FU-302's second merge) and
lands (push 4, gate 3); the full suite runs on the final head (gate 4). Push 1 creates the
release branch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.release_lock import pid_path
from orchestrator.core.agent_ids import agent_id_for
from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo
from tests.e2e.crash_kit import (
    BATCHES,
    CANDIDATE_REFS,
    FUS,
    HOOKS,
    RELEASE,
    RELEASE_REFS,
    Hook,
    PushTrap,
    Trap,
    agents_by_fu,
    fake_get,
    fake_reset,
    first_parent_line,
    git,
    install_hook,
    moved_refs,
    processes_mentioning,
    release_merges,
    write_gate,
    write_release,
)

pytestmark = pytest.mark.slow

KEY = "crash-restart-key-123"
RUN_TIMEOUT_S = 30.0
# Simulated seconds; time_scale 2000 makes a default agent run 0.05 s of real time. FU-101 ends
# in 0.01 s and FU-102 runs 0.7 s, so FU-102 is still running when FU-101 is merged (a kill there
# leaves a run to adopt); FU-302 runs 0.2 s, so it is merged into batch 3's candidate long before
# batch 1, let alone batch 2, lands.
SCENARIO: dict[str, Any] = {
    "time_scale": 2000,
    "heartbeat_interval_s": 100,
    "defaults": {"creating_s": 0, "duration_s": 100, "tool_calls": 1},
    "fus": {
        "FU-101": {"duration_s": 20},
        "FU-102": {"duration_s": 1400},
        "FU-302": {"duration_s": 400},
    },
}


@dataclass(frozen=True)
class Point:
    """Kill orchd at the `nth` occurrence of `kind`; `hook` says before (pre-receive) or after
    (post-receive) the ref moved; `fu` picks the merge pushes of one FU. `mid_run`: FUs whose
    agent is still running at the kill, so the restart must adopt them."""

    kind: str  # merge | push | gate
    nth: int
    hook: Hook | None = None
    fu: str | None = None
    mid_run: tuple[str, ...] = ()
    slow: tuple[tuple[str, float], ...] = ()  # (FU, simulated seconds) for this point only

    @property
    def id(self) -> str:
        where = {"pre-receive": "-pre", "post-receive": "-post", None: ""}[self.hook]
        return f"{self.kind}{where}{f'-{self.fu}' if self.fu else ''}-{self.nth}"


POINTS = [
    # FU-101's merge reached the candidate ref, orchd never heard; FU-102 still running (made
    # slower here: on a loaded machine FU-101's merge can take longer than FU-102's 0.7 s)
    Point("merge", 1, "post-receive", "FU-101", mid_run=("FU-102",), slow=(("FU-102", 10_000),)),
    # FU-202 started from the candidate holding FU-201 and delivered; its merge not published
    Point("merge", 1, "pre-receive", "FU-202"),
    # batch 3's candidate half rebuilt on the moved release branch
    Point("merge", 2, "post-receive", "FU-302"),
    # batch 1 gated, its landing refused / landed on the remote, never recorded
    Point("push", 2, "pre-receive"),
    Point("push", 2, "post-receive"),
    # batch 2 landed, never recorded: the remote still holds its candidate and batch 3's
    Point("push", 3, "post-receive"),
    # every batch landed, never recorded; the full suite never ran
    Point("push", 4, "post-receive"),
    Point("gate", 1),  # mid-gate of batch 1
    Point("gate", 3),  # mid-gate of batch 3's rebuilt candidate
    Point("gate", 4),  # mid-gate of the full suite, after the last landing
]


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeCursorProcess]:
    scenario = tmp_path_factory.mktemp("fake") / "scenario.yaml"
    scenario.write_text(json.dumps(SCENARIO))  # JSON is YAML
    with FakeCursorProcess(api_key=KEY, scenario=scenario) as proc:
        yield proc


@dataclass(frozen=True)
class World:
    tmp: Path
    repo_root: Path
    bare: Path
    url: str
    state_dir: Path
    status_file: Path
    pushes: Path  # every ref update the remote's hooks saw, runs separated by `---` lines
    fake: FakeCursorProcess

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CURSOR_CLOUD_API_URL": self.fake.url,
            "CURSOR_CLOUD_API_KEY": KEY,
            "REPO_URL": self.url,
            "RELEASE_BRANCH": "main",
            "STATE_DIRECTORY": str(self.state_dir),  # and --state-dir: one place for both
        }

    @property
    def lock(self) -> Path:
        """The release lock holding the running orchd's pid, in the state dir."""
        return pid_path(self.status_file, self.state_dir)

    def hook(self, hook: Hook, armed: PushTrap | None = None) -> None:
        install_hook(self.bare, hook, pushes=self.pushes, lock=self.lock, armed=armed)

    def gate(self, nth: int | None = None, trap: Trap | None = None) -> str:
        return write_gate(
            self.tmp / "gate.sh",
            lock=self.lock,
            trap=trap or Trap(self.tmp / "gates"),
            nth=nth,
            runs_log=self.gate_runs,
        )

    @property
    def gate_runs(self) -> Path:
        """One line per gate run: `<n> <batch> <commit> <cwd>`."""
        return self.tmp / "gate-runs.log"


@pytest.fixture
def world(tmp_path: Path, fake: FakeCursorProcess) -> World:
    fake_reset(fake.root, SCENARIO)  # every test starts with an empty account
    repo_root = tmp_path / "checkout"
    status_file = write_release(repo_root)
    bare = tmp_path / "remote.git"
    url = seed_repo(bare, project="crash")
    made = World(
        tmp=tmp_path,
        repo_root=repo_root,
        bare=bare,
        url=url,
        state_dir=tmp_path / "state",
        status_file=status_file,
        pushes=tmp_path / "pushes.log",
        fake=fake,
    )
    for hook in HOOKS:
        made.hook(hook)
    return made


@dataclass(frozen=True)
class Finished:
    code: int
    seconds: float
    stdout: str
    stderr: str

    def tail(self, lines: int = 30) -> str:
        return "\n".join((self.stdout + self.stderr).splitlines()[-lines:])


def run_orchd(
    world: World, gate_command: str, tag: str, *, kill_when: Callable[[], bool] | None = None
) -> Finished:
    """`orchd start` to its end (or its death); SIGKILLed as soon as `kill_when()` holds, or if
    it outlives RUN_TIMEOUT_S."""
    out, err = world.tmp / f"orchd-{tag}.out", world.tmp / f"orchd-{tag}.err"
    argv = [
        sys.executable,
        "-m",
        "orchestrator",
        "start",
        RELEASE,
        "--repo-root",
        str(world.repo_root),
        "--state-dir",
        str(world.state_dir),
        "--gate-command",
        gate_command,
        "--poll-interval",
        "0.05",
        "--on-batch-failure",
        "fail",
        "--on-checkpoint",
        "continue",
        "--plain",
    ]
    with world.pushes.open("a") as log:
        log.write(f"--- {tag}\n")
    started = time.monotonic()
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            argv, env=world.env(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        try:
            while proc.poll() is None and time.monotonic() - started < RUN_TIMEOUT_S:
                if kill_when is not None and kill_when():
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.02)
        finally:
            if proc.poll() is None and time.monotonic() - started >= RUN_TIMEOUT_S:
                proc.kill()
            proc.wait()
    return Finished(proc.returncode, time.monotonic() - started, out.read_text(), err.read_text())


def run_until_killed(world: World, gate_command: str, tag: str, trap: Trap) -> Finished:
    run = run_orchd(world, gate_command, tag)
    seen = "\n".join(trap.log())
    assert trap.fired(), (
        f"the trap never fired (it counted {trap.count()}; orchd exit {run.code})\n"
        f"{seen}\n{run.tail()}"
    )
    assert run.code == -9, f"orchd did not die by the trap (exit {run.code})\n{seen}\n{run.tail()}"
    return run


def run_to_completion(world: World, gate_command: str, tag: str, why: str) -> tuple[str, Finished]:
    run = run_orchd(world, gate_command, tag)
    context = f"{why}\n--- {tag} (exit {run.code}, {run.seconds:.1f}s):\n{run.tail()}"
    assert run.code == 0, context
    assert f"release {RELEASE}: completed" in run.stdout, context
    return context, run


def arm(world: World, point: Point) -> tuple[str, Trap]:
    """Set the point's trap; returns the gate command for `orchd start` and the trap."""
    trap = Trap(world.tmp / "trap")
    if point.kind == "gate":
        return world.gate(point.nth, trap), trap
    assert point.hook is not None
    refs = CANDIDATE_REFS if point.kind == "merge" else RELEASE_REFS
    world.hook(point.hook, PushTrap(point.hook, refs, point.nth, trap, fu=point.fu))
    return world.gate(), trap


@pytest.mark.parametrize("point", POINTS, ids=[p.id for p in POINTS])
def test_kill_9_then_restart_completes_with_each_fu_merged_once_and_no_duplicate_agent(
    world: World, point: Point
) -> None:
    if point.slow:
        fus = {**SCENARIO["fus"], **{fu: {"duration_s": s} for fu, s in point.slow}}
        fake_reset(world.fake.root, {**SCENARIO, "fus": fus})
    gate_command, trap = arm(world, point)
    run_until_killed(world, gate_command, "first", trap)
    before = Snapshot.take(world, "first")
    for fu in point.mid_run:  # the point really leaves a running agent for the restart
        assert fu in before.agents, f"{fu} was not launched: {before.agents}"
        assert fu not in before.pushed(), f"{fu} had finished: {before.agents[fu]}"

    why = f"point {point.id}; trap:\n" + "\n".join(trap.log())
    context, _ = run_to_completion(world, gate_command, "restart", why)
    check_finished_cleanly(world, [before], context)


def test_killed_twice_landing_unrecorded_then_mid_merge_still_completes(world: World) -> None:
    """A restart that is itself killed: batch 1 lands unrecorded (post-receive), then the
    restart dies before FU-202's merge reaches the candidate; the third run finishes."""
    gate_command = world.gate()
    first = Trap(world.tmp / "trap1")
    world.hook("post-receive", PushTrap("post-receive", RELEASE_REFS, 2, first))
    run_until_killed(world, gate_command, "first", first)
    after_first = Snapshot.take(world, "first")

    second = Trap(world.tmp / "trap2")
    world.hook("pre-receive", PushTrap("pre-receive", CANDIDATE_REFS, 1, second, fu="FU-202"))
    run_until_killed(world, gate_command, "second", second)
    after_second = Snapshot.take(world, "second")

    why = "killed at release push 2 (post-receive), then at FU-202's merge (pre-receive)"
    context, _ = run_to_completion(world, gate_command, "third", why)
    check_finished_cleanly(world, [after_first, after_second], context)


def test_an_adopted_agent_keeps_the_commit_it_started_from(world: World) -> None:
    """Killed while FU-202 runs (started from batch 2's candidate holding FU-201): the restart
    rebuilds that candidate (a new FU-201 merge commit) and adopts FU-202's run. FU-202's
    base_sha must stay the commit its agent really started from."""
    slow_202 = {**SCENARIO, "fus": {**SCENARIO["fus"], "FU-202": {"duration_s": 2000}}}
    fake_reset(world.fake.root, slow_202)
    gate_command = world.gate()

    def fu_202_running() -> bool:
        try:
            entry = fu_entries(json.loads(world.status_file.read_text())).get("FU-202", {})
        except (OSError, ValueError):
            return False  # not written yet, or mid-write
        return entry.get("status") == "running" and bool(entry.get("run_id"))

    first = run_orchd(world, gate_command, "first", kill_when=fu_202_running)
    assert first.code == -9, f"FU-202 was never seen running (exit {first.code})\n{first.tail()}"
    before = Snapshot.take(world, "first")
    assert "FU-202" not in before.pushed(), before.agents["FU-202"]
    recorded = fu_entries(before.status)["FU-202"]["base_sha"]
    started = before.agents["FU-202"][0]["startingRef"]
    assert recorded == started, f"before the restart: {recorded} vs {started}"

    context, _ = run_to_completion(world, gate_command, "restart", "killed while FU-202 runs")
    check_finished_cleanly(world, [before], context)
    entry = fu_entries(json.loads(world.status_file.read_text()))["FU-202"]
    assert entry["base_sha"] == started, f"agent started from {started}: {entry}\n{context}"


# --- the checks -------------------------------------------------------------------------------


def fu_entries(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """FU id → its entry in a status file (FUs are listed under their batches)."""
    return {e["fu_id"]: e for b in status.get("batches", []) for e in b.get("feature_units", [])}


@dataclass(frozen=True)
class Snapshot:
    """What the killed run `tag` left: the fake's agents and the status file."""

    tag: str
    agents: dict[str, list[dict[str, Any]]]
    status: dict[str, Any]

    @classmethod
    def take(cls, world: World, tag: str) -> Snapshot:
        status = json.loads(world.status_file.read_text()) if world.status_file.exists() else {}
        return cls(tag, agents_by_fu(fake_get(world.fake.root, "/_fake/git")), status)

    def pushed(self) -> dict[str, dict[str, Any]]:
        """FUs whose agent had pushed its branch (delivered, as far as the remote is
        concerned, whether or not the status file caught up)."""
        return {fu: agents[0] for fu, agents in self.agents.items() if agents[0]["pushedShas"]}


def check_finished_cleanly(world: World, earlier: list[Snapshot], context: str) -> None:
    # every FU exactly once on the release branch's first-parent line, with this release's
    # trailers (read by git itself, not by orchd)
    merges = release_merges(world.bare)
    named = sorted(fu for _, fu, _ in merges)
    assert named == sorted(FUS), f"FU merges on release/{RELEASE}: {named}\n{context}"
    assert {rel for _, _, rel in merges} == {RELEASE}, f"{merges}\n{context}"
    line = set(first_parent_line(world.bare))
    merge_of = {fu: sha for sha, fu, _ in merges}

    # one agent per FU, with the attempt-1 id and one run: none launched twice, none lost and
    # relaunched, no follow-up
    agents = agents_by_fu(fake_get(world.fake.root, "/_fake/git"))
    launches = fake_get(world.fake.root, "/_fake/stats")["launches_per_fu"]
    status = json.loads(world.status_file.read_text())
    nonce = status["run_nonce"]  # created at the first start, kept by every restart
    assert nonce

    def first_id(fu: str) -> str:
        return agent_id_for(RELEASE, fu, 1, repo_url=world.url, nonce=nonce)

    assert launches == dict.fromkeys(FUS, 1), f"launches per FU: {launches}\n{context}"
    for fu in FUS:
        ids = [a["agentId"] for a in agents.get(fu, [])]
        assert ids == [first_id(fu)], f"{fu}: agents {ids}\n{context}"
        runs = [r["runId"] for r in agents[fu][0]["runs"]]
        assert len(runs) == 1, f"{fu}: runs {runs}\n{context}"

    # an FU whose branch was pushed before a kill kept its agent and its one push
    for snapshot in earlier:
        for fu, agent in snapshot.pushed().items():
            now = agents[fu][0]
            assert now["agentId"] == agent["agentId"], f"{fu}\n{context}"
            assert now["pushedShas"] == agent["pushedShas"], f"{fu} pushed again\n{context}"

    # the status file: every FU completed, its merge commit the one on the release branch, what
    # a killed run recorded of its delivery kept
    assert status["orchestrator"]["status"] == "completed", context
    batches = {str(b["batch_id"]): b["status"] for b in status["batches"]}
    assert batches == dict.fromkeys(BATCHES, "completed"), f"{batches}\n{context}"
    final = fu_entries(status)
    assert sorted(final) == sorted(FUS), context
    for fu, entry in final.items():
        assert entry["status"] == "completed", f"{fu}: {entry}\n{context}"
        assert entry["merge_commit"] in line, f"{fu}: {entry}\n{context}"
        assert entry["merge_commit"] == merge_of[fu], f"{fu}: {entry}\n{context}"
        assert entry["worker_agent_id"] == first_id(fu), f"{fu}\n{context}"
        for snapshot in earlier:
            was = fu_entries(snapshot.status).get(fu, {})
            for field in ("delivered_branch", "delivered_sha"):
                if was.get(field):
                    assert entry[field] == was[field], f"{fu}.{field}: {entry}\n{context}"

    # a restart numbers candidates on: a candidate ref a killed run recorded is never pushed
    # again with other contents (a conflict prompt may have named it to an agent)
    moved = moved_refs(world.pushes, f"refs/heads/orchd/{RELEASE}/cand/")
    tags = list(moved)
    for k, snapshot in enumerate(earlier):
        recorded = {
            f"refs/heads/{b['candidate']}"
            for b in snapshot.status.get("batches", [])
            if b.get("candidate")
        }
        later = {ref for tag in tags[tags.index(snapshot.tag) + 1 :] for ref in moved[tag]}
        reused = sorted(later & recorded)
        assert reused == [], (
            f"recorded candidates pushed again after kill {k + 1}: {reused}\n{context}"
        )
    # ... and none is left on the remote once the release is done, not even one only a killed
    # run knew of
    refs = git(world.bare, "for-each-ref", "--format=%(refname)", f"refs/heads/orchd/{RELEASE}/")
    assert refs.split() == [], f"candidate refs left on the remote: {refs.split()}\n{context}"

    # every gate ran in a worktree under the state dir; the last one was the full suite on the
    # final release head
    runs = [line.split() for line in world.gate_runs.read_text().splitlines()]
    outside = [r for r in runs if not r[3].startswith(f"{world.state_dir}/worktrees/")]
    assert outside == [], f"gates outside the state dir's worktrees: {outside}\n{context}"
    head = first_parent_line(world.bare)[0]
    assert runs[-1][1:3] == ["full", head], f"gate runs: {runs}\n{context}"

    # no gate worktree left, neither in the state dir nor registered in orchd's cache
    worktrees = world.state_dir / "worktrees"
    left = sorted(p.relative_to(worktrees).as_posix() for p in worktrees.glob("*/*"))
    assert left == [], f"stray worktrees: {left}\n{context}"
    caches = list((world.state_dir / "repos").glob("*.git"))
    assert len(caches) == 1, f"{caches}\n{context}"
    listed = git(caches[0], "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1, f"registered worktrees: {listed}\n{context}"

    # no orchd (nor a gate, hook or git it started) still running; the release lock is free
    deadline = time.monotonic() + 5
    while (stray := processes_mentioning(str(world.tmp), exclude={world.fake.proc.pid})) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert stray == [], f"processes left: {stray}\n{context}"
    assert world.lock.read_text().strip() == "", context
