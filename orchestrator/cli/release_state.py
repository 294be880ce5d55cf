"""The state of a release as `orchd status` and `orchd watch` exit with it (README documents
the codes): 0 only when it completed, so a script can wait for a release and act on it.

Codes 1-3 mean what they mean when `orchd start` exits with them; the states only a reader
sees (still running, waiting for you, stopped with nobody running it) are 10-12, clear of the
codes orchd itself exits with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.adapters.release_lock import pid_path
from orchestrator.core.release_timing import FINAL_RELEASE
from orchestrator.errors import ExitCode
from orchestrator.models.status import ReleaseStatus, StatusFile

if TYPE_CHECKING:
    from orchestrator.models.release import ReleasePlan


class ReleaseState(IntEnum):
    COMPLETED = ExitCode.OK
    FAILED = ExitCode.RELEASE_FAILED
    NO_SUCH_RELEASE = ExitCode.BAD_INPUT  # or no status file yet, or one that is not JSON
    ABORTED = ExitCode.ABORTED
    RUNNING = 10
    WAITING_FOR_YOU = 11  # orchd asks a question: `orchd decide` answers it
    STOPPED = (
        12  # not finished, no orchd runs it (detached, crashed, killed): `orchd start` resumes
    )


_FINAL = {
    ReleaseStatus.COMPLETED.value: ReleaseState.COMPLETED,
    ReleaseStatus.FAILED.value: ReleaseState.FAILED,
    ReleaseStatus.ABORTED.value: ReleaseState.ABORTED,
}


def release_state(snapshot: StatusFile, *, orchd_running: bool) -> ReleaseState:
    status = snapshot.orchestrator.status
    if status in FINAL_RELEASE:
        return _FINAL[status]
    if not orchd_running:
        return ReleaseState.STOPPED
    if snapshot.orchestrator.awaiting:
        return ReleaseState.WAITING_FOR_YOU
    return ReleaseState.RUNNING


def orchd_alive(status_path: Path, state_dir: Path | None = None) -> int | None:
    """The pid in the release lock's file if that process exists, without touching the lock
    (a watcher polling the lock could make `orchd start` think another orchd holds it)."""
    try:
        text = pid_path(status_path, state_dir).read_text(errors="replace").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # it exists, as another user
    return pid


@dataclass(frozen=True)
class PlanFacts:
    """What the plan tells the ETA: how many FUs run at once, the schedule's estimates."""

    parallel: int | None = None
    estimates_h: dict[str, float] = field(default_factory=dict)


def recorded_facts(snapshot: StatusFile) -> PlanFacts | None:
    """The facts orchd recorded in the status file when it started the release (None for a
    file from before it did, or not written by orchd): a reader need not load the plan."""
    parallel = snapshot.orchestrator.max_parallel_fus
    if parallel is None:
        return None
    estimates = {
        fu.fu_id: fu.estimate_h
        for batch in snapshot.batches
        for fu in batch.feature_units
        if fu.estimate_h
    }
    return PlanFacts(parallel, estimates)


def plan_facts(plan: ReleasePlan | None) -> PlanFacts:
    """Empty when the plan did not load (a worker's branch holds only the status file)."""
    if plan is None:
        return PlanFacts()
    estimates = {u.id: u.estimate_hours for u in plan.feature_units if u.estimate_hours}
    return PlanFacts(plan.limits.effective_parallel, estimates)
