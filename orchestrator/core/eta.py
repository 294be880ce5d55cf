"""When a running release should end: the work left, at the pace seen so far (pure).

With the schedule's estimates (`FeatureUnit.estimate_hours`), the work left is the estimated
hours of the FUs still to run, turned into agent time at the pace the finished FUs kept
(their agent time per estimated hour; at face value before any finished). Without estimates
it is the FUs left × the finished FUs' mean agent time. Either way less what running FUs
already ran, divided by how many run at once. A forecast: gates, conflicts, retries and a
person's answers add to it, and dependencies can keep slots idle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from orchestrator.core.estimates import durations_h
from orchestrator.core.release_timing import (
    ACTIVE,
    FINAL_RELEASE,
    WORK_DONE,
    agent_time_s,
    fu_time_s,
)
from orchestrator.models.status import FuEntry, FuStatus, StatusFile

_TO_RUN = ACTIVE | {FuStatus.PENDING.value}
_AGENT_RUNS = frozenset({FuStatus.RUNNING.value, FuStatus.STALE.value})
_HOUR_S = 3600.0


@dataclass(frozen=True)
class Eta:
    remaining_s: float
    left: int  # FUs whose agents still have work
    parallel: int  # how many run at once
    finished: int  # FUs the pace or the mean is taken from
    mean_s: float | None = None  # without estimates: the finished FUs' mean agent time
    estimate_h: float | None = None  # with estimates: the estimated hours left
    pace: float | None = None  # agent seconds per estimated hour; None: at face value


def _spent_s(fu: FuEntry, now: datetime) -> float:
    """How much of its work an FU still to run has done: its agent time, or for a file from
    before run times, how long its agent has been running."""
    elapsed = (fu_time_s(fu, now) or 0.0) if fu.status in _AGENT_RUNS else 0.0
    return max(agent_time_s(fu, now), elapsed)


def eta(
    snapshot: StatusFile,
    now: datetime,
    parallel: int | None = None,
    estimates_h: Mapping[str, float] | None = None,
) -> Eta | None:
    """None when the release is finished, nothing is left to run, or there is nothing to go
    on (no estimates and no FU finished yet).

    `parallel` is the plan's limit when known, else as many as run now (at least one);
    `estimates_h` the plan's estimates by FU id (an FU without one counts as their median)."""
    if snapshot.orchestrator.status in FINAL_RELEASE:
        return None
    fus = [fu for batch in snapshot.batches for fu in batch.feature_units]
    left = [fu for fu in fus if fu.status in _TO_RUN]
    done = [(fu, t) for fu in fus if fu.status in WORK_DONE and (t := agent_time_s(fu, now)) > 0]
    if not left:
        return None
    running = sum(fu.status in ACTIVE for fu in fus)
    at_once = max(1, min(parallel or running or 1, len(left)))
    if estimates_h and any(h > 0 for h in estimates_h.values()):
        hours = durations_h([fu.fu_id for fu in fus], estimates_h)
        done_h = sum(hours[fu.fu_id] for fu, _ in done)
        pace = sum(t for _, t in done) / done_h if done and done_h > 0 else None
        per_hour_s = pace if pace is not None else _HOUR_S
        work_s = sum(max(hours[fu.fu_id] * per_hour_s - _spent_s(fu, now), 0.0) for fu in left)
        return Eta(
            remaining_s=work_s / at_once,
            left=len(left),
            parallel=at_once,
            finished=len(done),
            estimate_h=sum(hours[fu.fu_id] for fu in left),
            pace=pace,
        )
    if not done:
        return None
    mean_s = sum(t for _, t in done) / len(done)
    work_s = sum(max(mean_s - _spent_s(fu, now), 0.0) for fu in left)
    return Eta(
        remaining_s=work_s / at_once,
        left=len(left),
        parallel=at_once,
        finished=len(done),
        mean_s=mean_s,
    )
