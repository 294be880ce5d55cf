"""The fake agent's real git work on local repos: clone, edit or merge, commit, push.

Run status stays a pure function of simulated time (state.py). When a request first sees a run
on a local-path or `file://` repo FINISHED, `AgentGit.settle` does that run's git work, once,
synchronously and before the response is rendered: a client that sees FINISHED can fetch the
branch. Blocking the event loop is intended: in-process tests on a fake clock see no simulated
time pass. Every clone is a scratch directory under the fake's workspace, removed after use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.fakecursor.runs import TERMINAL, Agent, GitOutcome, Run

if TYPE_CHECKING:
    from orchestrator.fakecursor.state import Simulation

AGENT_NAME = "Fake Agent"
AGENT_EMAIL = "agent@fake.cursor"
RUN_SH = "tests/run.sh"
CONFLICT_FILE = "shared/conflict.txt"
_SHA = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{40}(?![0-9A-Za-z])")
# A SHA the prompt asks to merge: "Merge commit <sha>", "`git merge <sha>`". A SHA named
# otherwise ("failed on candidate <sha>, which merges your branch") is context, not a target.
_MERGE_TARGET = re.compile(
    r"\bmerge\W+(?:[\w-]+\W+){0,3}?([0-9a-fA-F]{40})(?![0-9A-Za-z])", re.IGNORECASE
)
_MARKERS = ("<<<<<<< ", "||||||| ", "=======", ">>>>>>> ")


class GitFailed(Exception):
    """A git command failed; the run then pushes nothing and its outcome names the error."""


def git_env(name: str = AGENT_NAME, email: str = AGENT_EMAIL) -> dict[str, str]:
    """The caller's environment minus GIT_* and user config, so results do not depend on them
    (a global `commit.gpgsign` or hook path would otherwise break the fake)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
    )
    return env


def run_git(
    cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`git <args>` in `cwd` (no shell); raises GitFailed with git's stderr when `check`."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env if env is not None else git_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise GitFailed(f"git {args[0]}: {detail[-1] if detail else f'exit {done.returncode}'}")
    return done


def break_line(fu: str) -> str:
    """The line `break_tests` puts right after the shebang of tests/run.sh."""
    return f'echo "broken by {fu}" >&2; exit 1'


class AgentGit:
    """Owns the scratch workspace (made on first use) and settles runs' git work."""

    def __init__(self) -> None:
        self._workspace: Path | None = None
        self._cleanup: weakref.finalize[Any, Any] | None = None

    @property
    def workspace(self) -> Path | None:
        return self._workspace

    def _ensure_workspace(self) -> Path:
        if self._workspace is None:
            self._workspace = Path(tempfile.mkdtemp(prefix="orchd-fake-agents-"))
            # Also removed at garbage collection or interpreter exit if nobody calls close().
            self._cleanup = weakref.finalize(
                self, shutil.rmtree, str(self._workspace), ignore_errors=True
            )
        return self._workspace

    def close(self) -> None:
        """Remove the workspace; a later git run makes a fresh one."""
        if self._cleanup is not None:
            self._cleanup()
        self._workspace = None
        self._cleanup = None

    def settle(self, sim: Simulation, t_s: float) -> None:
        """Do the git work of every pending run that is terminal at `t_s`, oldest first."""
        if not sim.git_pending:
            return
        waiting: list[Run] = []
        for run in sim.git_pending:
            status = run.status(t_s)
            agent = sim.agents.get(run.agent_id)
            if status not in TERMINAL:
                waiting.append(run)
            elif status != "FINISHED":
                run.git = GitOutcome(f"skipped: run {status}")
            elif agent is None:
                run.git = GitOutcome("skipped: agent deleted")
            else:
                run.git = self._work(sim, agent, run)
        sim.git_pending = waiting

    def _work(self, sim: Simulation, agent: Agent, run: Run) -> GitOutcome:
        plan = run.plan
        if plan.git_edit == "none":
            return GitOutcome("nothing", notes=["git_edit: none"])
        if run.launch_no <= plan.push_nothing_first_runs:
            return GitOutcome("nothing", notes=[f"push_nothing_first_runs: launch {run.launch_no}"])
        scratch = Path(tempfile.mkdtemp(prefix="run-", dir=self._ensure_workspace()))
        try:
            return _Turn(sim, agent, run, scratch).do()
        except (GitFailed, OSError) as exc:
            return GitOutcome(f"error: {exc}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class _Turn:
    """One run's git work in one scratch clone."""

    def __init__(self, sim: Simulation, agent: Agent, run: Run, scratch: Path) -> None:
        self.agent = agent
        self.run = run
        self.fu = run.fu_id or "agent"
        url = str(agent.repos[0]["url"])
        self.url = str(Path(url).resolve()) if url.startswith(".") else url  # cwd is scratch
        self.branch = agent.branch or f"cursor/{self.fu.lower()}"
        self.repo = scratch / "repo"
        earlier = [sim.runs[r].git for r in agent.run_ids[: agent.run_ids.index(run.id)]]
        self.first_base = next((g.started_from for g in earlier if g and g.started_from), None)
        self.follow_up = agent.run_ids.index(run.id) > 0

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_git(self.repo, *args, check=check)

    def sha(self, rev: str) -> str | None:
        done = self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    def do(self) -> GitOutcome:
        run_git(self.repo.parent, "clone", "--quiet", self.url, self.repo.name)
        remote_head = self.sha(f"refs/remotes/origin/{self.branch}")
        out = GitOutcome("pushed")
        if remote_head is not None:  # the agent's branch exists: continue on it
            self.git("checkout", "--quiet", "-B", self.branch, remote_head)
        else:  # nothing pushed yet (first run, or earlier runs pushed nothing): cut it
            base = self.starting_commit()
            self.git("checkout", "--quiet", "-B", self.branch, base)
            out.started_from = base
            self.edit()
        if self.follow_up:
            for sha in dict.fromkeys(s.lower() for s in _MERGE_TARGET.findall(self.run.prompt)):
                if not self.merge(sha, out):
                    return out
            if remote_head is not None:
                self.unbreak(out)
        head = self.sha("HEAD")
        if head == remote_head:
            out.outcome, out.pushed_sha = "unchanged", head
            return out
        self.git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}")
        out.pushed_sha = head
        return out

    def starting_commit(self) -> str:
        """`startingRef` as a remote branch, else a SHA or tag; none given: the remote's HEAD."""
        ref = self.agent.repos[0].get("startingRef")
        if not ref:
            found = self.sha("HEAD")
        else:
            found = self.sha(f"refs/remotes/origin/{ref}") or self.sha(str(ref))
            if found is None and _SHA.fullmatch(str(ref)):
                self.git("fetch", "--quiet", "origin", str(ref), check=False)
                found = self.sha(str(ref))
        if found is None:
            raise GitFailed(f"startingRef {ref or 'HEAD'!r} not found in {self.url}")
        return found

    def commit(self, message: str) -> bool:
        """Commit what is staged; False when nothing changed."""
        if self.git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return False
        self.git("commit", "--quiet", "--no-verify", "-m", message)
        return True

    def edit(self) -> None:
        """The scenario's change: always `fu/<FU>.md`, plus a conflict or a broken test script."""
        edit = self.run.plan.git_edit
        note = self.repo / "fu" / f"{self.fu}.md"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"{self.fu}: implemented by agent {self.agent.id} in run {self.run.id}\n")
        self.git("add", "--", f"fu/{self.fu}.md")
        if edit == "conflict":
            shared = self.repo / CONFLICT_FILE
            shared.parent.mkdir(parents=True, exist_ok=True)
            rest = shared.read_text().splitlines(keepends=True)[1:] if shared.exists() else []
            shared.write_text("".join([f"line 1 as {self.fu} wants it\n", *rest]))
            self.git("add", "--", CONFLICT_FILE)
        elif edit == "break_tests":
            script = self.repo / RUN_SH
            script.parent.mkdir(parents=True, exist_ok=True)
            lines = script.read_text().splitlines(keepends=True) if script.exists() else []
            at = 1 if lines and lines[0].startswith("#!") else 0
            if not lines:
                lines, at = ["#!/bin/sh\n"], 1
            lines.insert(at, break_line(self.fu) + "\n")
            script.write_text("".join(lines))
            script.chmod(0o755)
            self.git("add", "--", RUN_SH)
        self.commit(f"{self.fu}: {edit.replace('_', ' ')}")

    def merge(self, sha: str, out: GitOutcome) -> bool:
        """Merge a SHA the prompt names; False when a conflict made the agent give up."""
        if self.sha(sha) is None:
            self.git("fetch", "--quiet", "origin", sha, check=False)
            if self.sha(sha) is None:
                out.notes.append(f"{sha}: not in the remote, not merged")
                return True
        if self.git("merge-base", "--is-ancestor", sha, "HEAD", check=False).returncode == 0:
            out.notes.append(f"{sha}: already contained")
            return True
        message = f"Merge {sha} into {self.branch}"
        done = self.git("merge", "--no-ff", "--no-edit", "-m", message, sha, check=False)
        if done.returncode != 0:
            listed = self.git("diff", "--name-only", "--diff-filter=U", "-z")
            conflicted = [p for p in listed.stdout.split("\0") if p]
            if not conflicted:
                raise GitFailed(f"git merge {sha}: {done.stderr.strip() or done.stdout.strip()}")
            if self.run.plan.resolve_conflicts == "give_up":
                self.git("merge", "--abort")
                out.outcome = "gave_up"
                out.notes.append(f"{sha}: conflicts in {', '.join(conflicted)}; gave up")
                return False
            for path in conflicted:
                self.keep_both_sides(path)
            self.git("commit", "--quiet", "--no-verify", "--no-edit")
            out.notes.append(f"{sha}: conflicts resolved (union) in {', '.join(conflicted)}")
        out.merged.append(sha)
        return True

    def keep_both_sides(self, path: str) -> None:
        """Union resolution: our lines then theirs, the base and the markers dropped."""
        file = self.repo / path
        if not file.exists():
            self.git("rm", "--quiet", "--cached", "--", path)
            return
        kept: list[str] = []
        in_base = False
        for line in file.read_text(errors="surrogateescape").splitlines(keepends=True):
            if line.startswith(_MARKERS):
                in_base = line.startswith("||||||| ")
                continue
            if not in_base:
                kept.append(line)
        file.write_text("".join(kept), errors="surrogateescape")
        self.git("add", "--", path)

    def unbreak(self, out: GitOutcome) -> None:
        """A follow-up undoes this agent's own break_tests change (fix_on_follow_up)."""
        plan = self.run.plan
        script = self.repo / RUN_SH
        if plan.git_edit != "break_tests" or not plan.fix_on_follow_up or not script.exists():
            return
        lines = script.read_text().splitlines(keepends=True)
        fixed = [ln for ln in lines if ln.rstrip("\n") != break_line(self.fu)]
        if fixed == lines:
            return
        existed = self.first_base is None or (
            self.git("cat-file", "-e", f"{self.first_base}:{RUN_SH}", check=False).returncode == 0
        )
        if existed:
            script.write_text("".join(fixed))
            self.git("add", "--", RUN_SH)
        else:
            self.git("rm", "--quiet", "--", RUN_SH)
        if self.commit(f"{self.fu}: fix {RUN_SH}"):
            out.notes.append(f"fixed {RUN_SH}")


def git_report(sim: Simulation, t_s: float, workspace: Path | None) -> dict[str, Any]:
    """What `/_fake/git` shows: per local-repo agent, what each run started from and pushed."""
    agents: list[dict[str, Any]] = []
    for agent in sim.agents.values():
        if agent.local_repo is None:
            continue
        runs = [sim.runs[r] for r in agent.run_ids]
        outcomes = [r.git for r in runs if r.git is not None]
        agents.append(
            {
                "agentId": agent.id,
                "fu": agent.fu_id,
                "repoUrl": agent.local_repo,
                "startingRef": agent.repos[0].get("startingRef"),
                "branch": agent.branch,
                "pushedShas": [g.pushed_sha for g in outcomes if g.pushed_sha],
                "mergedShas": [sha for g in outcomes for sha in g.merged],
                "runs": [
                    {
                        "runId": r.id,
                        "status": r.status(t_s),
                        "launchNo": r.launch_no,
                        "prompt": r.prompt,
                        **(r.git.as_json() if r.git else {"outcome": None}),
                    }
                    for r in runs
                ],
            }
        )
    return {"workspace": str(workspace) if workspace else None, "agents": agents}
