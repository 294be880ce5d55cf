"""The seed's release metrics from a status file alone, at a given `now`.

The dashboard page, its JSON API and its Prometheus series all come from here, so they agree:
utilization (active agents / max_parallel_fus), failure and retry rates, mean FU duration (per
batch too), calendar time against the sequential sum, progress and an ETA.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import fmean

from orchestrator.models.dashboard import Metrics, Progress
from orchestrator.models.status import BatchEntry, BatchStatus, FuEntry, FuStatus, StatusFile

ACTIVE_AGENT = frozenset({FuStatus.LAUNCHING, FuStatus.RUNNING, FuStatus.STALE})
"""An agent is being created or at work (retrying and waiting_for_capacity have none yet)."""
OUTSTANDING = frozenset(
    {*ACTIVE_AGENT, FuStatus.PENDING, FuStatus.RETRYING, FuStatus.WAITING_FOR_CAPACITY}
)
"""Agent work still to do."""
WORK_DONE = frozenset({FuStatus.DELIVERED, FuStatus.MERGED, FuStatus.COMPLETED})
"""The agent delivered: `duration_s` is its time from launch to delivery."""
FAILED = frozenset({FuStatus.FAILED, FuStatus.NEEDS_HUMAN})
RELEASE_OVER = frozenset({"completed", "failed", "aborted"})
_BATCH_IN_PROGRESS = frozenset(
    {BatchStatus.RUNNING, BatchStatus.GATING, BatchStatus.AWAITING_DECISION}
)


def all_fus(snapshot: StatusFile) -> list[FuEntry]:
    return [fu for batch in snapshot.batches for fu in batch.feature_units]


def release_end(snapshot: StatusFile, now: datetime) -> datetime:
    """Where the release's clock stops: its completion, else now."""
    return snapshot.orchestrator.completed_at or now


def is_over(snapshot: StatusFile) -> bool:
    return snapshot.orchestrator.status in RELEASE_OVER


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else max((end - start).total_seconds(), 0.0)


def running_s(fu: FuEntry, end: datetime) -> float | None:
    """How long an FU's current attempt has been at work (None unless an agent is at work)."""
    return _seconds(fu.started_at, end) if fu.status in ACTIVE_AGENT else None


def mean_duration_s(fus: list[FuEntry]) -> float | None:
    done = [fu.duration_s for fu in fus if fu.status in WORK_DONE and fu.duration_s is not None]
    return round(fmean(done), 3) if done else None


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def metrics(snapshot: StatusFile, now: datetime, max_parallel: int | None) -> Metrics:
    fus = all_fus(snapshot)
    end = release_end(snapshot, now)
    total = len(fus)
    active = sum(fu.status in ACTIVE_AGENT for fu in fus)
    failures = sum(fu.status in FAILED for fu in fus)
    retries = sum(max(fu.attempts - 1, 0) for fu in fus)
    calendar = _seconds(snapshot.orchestrator.started_at, end)
    sequential = sum(
        (fu.duration_s or 0.0) if fu.status in WORK_DONE else (running_s(fu, end) or 0.0)
        for fu in fus
    )
    return Metrics(
        fus_by_status=dict(sorted(Counter(fu.status for fu in fus).items())),
        active_agents=active,
        max_parallel_fus=max_parallel,
        utilization=round(active / max_parallel, 4) if max_parallel else None,
        failures=failures,
        failure_rate=_ratio(failures, total),
        retries=retries,
        retry_rate=_ratio(retries, total),
        mean_fu_duration_s=mean_duration_s(fus),
        calendar_s=None if calendar is None else round(calendar, 3),
        sequential_s=round(sequential, 3),
        time_saved_s=None if calendar is None else round(sequential - calendar, 3),
    )


def eta_s(snapshot: StatusFile, now: datetime, max_parallel: int | None) -> float | None:
    """Seconds until the agents' outstanding work is done, from finished FUs' mean duration.

    Each pending FU needs the mean; a running one the mean less what it has run (at least 0);
    spread over the parallelism (max_parallel_fus, else the agents at work), and never less
    than the longest single remainder. Null when nothing has finished to take a mean from, or
    when the release ended with work left undone.
    """
    fus = all_fus(snapshot)
    outstanding = [fu for fu in fus if fu.status in OUTSTANDING]
    if not outstanding:
        return 0.0
    mean = mean_duration_s(fus)
    if mean is None or is_over(snapshot):
        return None
    remaining = [max(mean - (running_s(fu, now) or 0.0), 0.0) for fu in outstanding]
    active = sum(fu.status in ACTIVE_AGENT for fu in fus)
    parallel = max_parallel or max(active, 1)
    return round(max(sum(remaining) / parallel, max(remaining)), 3)


def progress(snapshot: StatusFile, now: datetime, max_parallel: int | None) -> Progress:
    fus = all_fus(snapshot)
    landed = sum(fu.status == FuStatus.COMPLETED for fu in fus)
    return Progress(
        landed=landed,
        total=len(fus),
        percent=round(100.0 * landed / len(fus), 1) if fus else 0.0,
        elapsed_s=_seconds(snapshot.orchestrator.started_at, release_end(snapshot, now)),
        eta_s=eta_s(snapshot, now, max_parallel),
    )


def batch_in_progress(batch: BatchEntry) -> bool:
    return batch.status in _BATCH_IN_PROGRESS or any(
        fu.status in ACTIVE_AGENT for fu in batch.feature_units
    )


def seconds_since_progress(snapshot: StatusFile, batch: BatchEntry, now: datetime) -> float | None:
    """Now minus the batch's latest sign of life, while it is in progress (the seed's "batch
    stalled" alert watches this); None for batches done, not started, or in a finished release."""
    if is_over(snapshot) or not batch_in_progress(batch):
        return None
    times = [batch.started_at] + [
        t for fu in batch.feature_units for t in (fu.started_at, fu.last_update)
    ]
    known = [t for t in times if t is not None]
    return round(max((now - max(known)).total_seconds(), 0.0), 3) if known else None
