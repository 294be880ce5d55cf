"""Agents and runs as records whose status is a pure function of simulated time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.fakecursor.scenario import FuBehaviour

TERMINAL = frozenset({"FINISHED", "ERROR", "CANCELLED", "EXPIRED"})


def is_local_repo(url: str) -> bool:
    """A `file://` URL or a filesystem path: the fake clones and pushes it for real."""
    return url.startswith(("file://", "/", "./", "../"))


def iso(epoch: datetime, t_s: float) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, `t_s` simulated seconds after `epoch`."""
    when = epoch + timedelta(seconds=t_s)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Run:
    id: str
    agent_id: str
    fu_id: str | None
    created_s: float
    plan: FuBehaviour
    final_status: str  # the scripted outcome (fail_first_attempts may turn FINISHED into ERROR)
    cancelled_s: float | None = None
    prompt: str = ""  # kept: a follow-up merges the SHA its prompt asks to merge (agent_git)
    launch_no: int = 1  # the FU's launch count at creation (push_nothing_first_runs counts it)
    git: GitOutcome | None = None  # local repos: set once the agent's git work is done

    @property
    def running_s(self) -> float:
        return self.created_s + self.plan.creating_s

    @property
    def natural_end_s(self) -> float | None:
        """When the script ends the run, or None for a hang."""
        return None if self.plan.hang else self.running_s + self.plan.duration_s

    def ended_s(self, t_s: float) -> float | None:
        """The moment the run became terminal, if it is terminal at `t_s`."""
        if self.cancelled_s is not None and self.cancelled_s <= t_s:
            return self.cancelled_s
        end = self.natural_end_s
        return end if end is not None and end <= t_s else None

    def status(self, t_s: float) -> str:
        ended = self.ended_s(t_s)
        if ended is not None:
            return "CANCELLED" if ended == self.cancelled_s else self.final_status
        return "CREATING" if t_s < self.running_s else "RUNNING"

    def reached_running(self, t_s: float) -> bool:
        """Whether the agent got to work (and so pushed its branch) by `t_s`."""
        ended = self.ended_s(t_s)
        limit = t_s if ended is None else ended
        return self.running_s <= limit and not (
            self.cancelled_s is not None and self.cancelled_s < self.running_s
        )

    def updated_s(self, t_s: float) -> float:
        """Last transition time: updatedAt does not move while RUNNING (as the real API)."""
        ended = self.ended_s(t_s)
        if ended is not None:
            return ended
        return self.running_s if t_s >= self.running_s else self.created_s

    def result_text(self) -> str:
        fu = self.fu_id or "the task"
        if self.final_status == "FINISHED":
            return self.plan.result_text or f"Implemented {fu}; all tests pass."
        if self.final_status == "EXPIRED":
            return f"The run for {fu} expired before finishing."
        return self.plan.error_message


@dataclass
class GitOutcome:
    """What a run on a local repo did to the remote; None fields mean "nothing"."""

    outcome: str  # pushed | unchanged | nothing | gave_up | error: ... | skipped: ...
    started_from: str | None = None  # the commit the branch was first cut from, by this run
    pushed_sha: str | None = None  # the branch head on the remote after this run
    merged: list[str] = field(default_factory=list)  # SHAs the prompt asked to merge, merged
    notes: list[str] = field(default_factory=list)  # what else happened, for test failures

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "startedFrom": self.started_from,
            "pushedSha": self.pushed_sha,
            "merged": list(self.merged),
            "notes": list(self.notes),
        }


@dataclass
class Agent:
    id: str
    name: str
    fu_id: str | None
    created_s: float
    env: dict[str, Any]
    repos: list[dict[str, Any]]
    auto_create_pr: bool
    work_on_current_branch: bool
    skip_reviewer_request: bool
    custom_subagents: list[dict[str, Any]] | None
    branch: str | None
    pr_number: int
    archived: bool = False
    run_ids: list[str] = field(default_factory=list)

    @property
    def local_repo(self) -> str | None:
        """The repo URL when it is a local path or `file://` URL (real git), else None."""
        if not self.repos:
            return None
        url = str(self.repos[0]["url"])
        return url if is_local_repo(url) else None

    @property
    def repo_url_no_scheme(self) -> str | None:
        if not self.repos:
            return None
        url = str(self.repos[0]["url"])
        return url.split("://", 1)[-1].removesuffix(".git").rstrip("/")

    def pr_url(self) -> str | None:
        repo = self.repo_url_no_scheme
        return f"https://{repo}/pull/{self.pr_number}" if repo else None
