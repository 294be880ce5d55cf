"""Calendar time and agent time of a release, from its status file alone (pure).

Calendar time runs from the release's first start to its end, across restarts. The sequential
sum lays every agent run of every FU end to end (failed attempts, conflict follow-ups, runs
adopted after a restart): what running the FUs one at a time would have cost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.models.status import FuEntry, FuStatus, ReleaseStatus, StatusFile

FINAL_RELEASE = frozenset(
    {ReleaseStatus.COMPLETED.value, ReleaseStatus.FAILED.value, ReleaseStatus.ABORTED.value}
)
# the agent's part is done: what is left for these is merging and gating
WORK_DONE = frozenset({FuStatus.DELIVERED.value, FuStatus.MERGED.value, FuStatus.COMPLETED.value})
ACTIVE = frozenset(s.value for s in FuStatus if s.is_active)


def release_start(snapshot: StatusFile) -> datetime | None:
    orch = snapshot.orchestrator
    return orch.first_started_at or orch.started_at


def release_end(snapshot: StatusFile) -> datetime | None:
    """When a finished release ended (a re-run that had nothing to do keeps the first end)."""
    orch = snapshot.orchestrator
    if orch.status not in FINAL_RELEASE:
        return None
    return orch.ended_at or orch.completed_at


def calendar_s(snapshot: StatusFile, now: datetime) -> float | None:
    """Seconds from the first start to the end, or to `now` while it is not finished."""
    start = release_start(snapshot)
    if start is None:
        return None
    end = release_end(snapshot) or now
    return max((end - start).total_seconds(), 0.0)


def agent_time_s(fu: FuEntry, until: datetime) -> float:
    """Every agent run of the FU that ended, plus the open one up to `until`.

    A file from before orchd kept run times knows only the last attempt's `duration_s`, and
    only for FUs whose agent delivered (a deferred FU's duration includes waiting for a human)."""
    total = fu.run_time_s
    if fu.run_started_at is not None:
        total += max((until - fu.run_started_at).total_seconds(), 0.0)
    if total == 0.0 and fu.status in WORK_DONE:
        return fu.duration_s or 0.0
    return total


def sequential_s(snapshot: StatusFile, until: datetime) -> float:
    return sum(agent_time_s(fu, until) for batch in snapshot.batches for fu in batch.feature_units)


def run_closed(fu: FuEntry, at: datetime) -> dict[str, Any]:
    """The reducer's changes when the FU's open agent run ends at `at` (none if none is open):
    its length joins the FU's run time."""
    if fu.run_started_at is None:
        return {}
    ran_s = max((at - fu.run_started_at).total_seconds(), 0.0)
    return {"run_started_at": None, "run_time_s": round(fu.run_time_s + ran_s, 3)}


def release_ended_at(snapshot: StatusFile, at: datetime) -> datetime:
    """When a release that finishes at `at` ended: `at`, except for a re-run of a completed
    release that launched and landed nothing, which keeps the end it had."""
    orch = snapshot.orchestrator
    since = orch.started_at
    if orch.ended_at is None or since is None:
        return at
    worked = any(
        (fu.started_at is not None and fu.started_at >= since)
        or (fu.landed_at is not None and fu.landed_at >= since)
        for batch in snapshot.batches
        for fu in batch.feature_units
    )
    return at if worked else orch.ended_at


def fu_time_s(fu: FuEntry, now: datetime) -> float | None:
    """What the table shows: an active FU's elapsed time since its attempt started, else the
    recorded duration."""
    if fu.status in ACTIVE and fu.started_at is not None:
        return max((now - fu.started_at).total_seconds(), 0.0)
    return fu.duration_s
