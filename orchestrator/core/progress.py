"""Progress from real signals only: milestones of the run, never a guess from elapsed time.

created 0.05, running 0.1, branch pushed 0.5, PR opened 0.8, finished 1.0 (set by the reducer).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunFacts:
    """What a poll or stream event told us about a run; compared to detect change."""

    status: str
    updated_at: str | None = None
    branch: str | None = None
    pr_url: str | None = None
    duration_ms: int | None = None


def progress_of(facts: RunFacts) -> float:
    if facts.pr_url:
        return 0.8
    if facts.branch:
        return 0.5
    if facts.status == "RUNNING":
        return 0.1
    return 0.05
