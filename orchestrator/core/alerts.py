"""The seed's four alerts, as events (pure): agent timeout, batch stalled, high failure rate in
a batch, integration test failure.

Each alert names its occurrence in a `key`, so it is raised once however often it is checked
(the reducer keeps the first of each key): a timeout per FU attempt, a stall per batch and
last sign of life (a batch that moves and stalls again alerts again), a failure rate once per
batch, a gate failure per candidate. Timeouts and gate failures are raised where they happen;
stalls and failure rates are found by looking at the status file now and then (`watch_alerts`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from orchestrator.models.events import AlertRaised
from orchestrator.models.status import BatchEntry, FuStatus, StatusFile

STALLED_AFTER_MINUTES = 30.0
FAILURE_RATE_LIMIT = 0.2
_DONE_RELEASE = {"completed", "failed", "aborted", "detached"}
_IN_PROGRESS = {"running", "gating"}
_ACTIVE = {"launching", "running", "stale", "retrying", "waiting_for_capacity"}
# FUs that failed at least once: escalated, failed, or between a failed attempt and the next
_FAILING = {FuStatus.FAILED.value, FuStatus.NEEDS_HUMAN.value, "retrying", "stale"}


def _batch(value: Decimal) -> str:
    return format(value, "f")


def agent_timeout(
    at: datetime, fu_id: str, attempt: int, minutes: float, batch_id: Decimal | None
) -> AlertRaised:
    return AlertRaised(
        at=at,
        key=f"agent_timeout/{fu_id}/{attempt}",
        kind="agent_timeout",
        message=f"{fu_id}: agent timed out after {minutes:g} min (attempt {attempt})",
        fu_id=fu_id,
        batch_id=batch_id,
    )


def integration_test_failure(
    at: datetime, batch_id: Decimal | None, candidate: str | None, summary: str, *, full: bool
) -> AlertRaised:
    """A batch gate (per candidate) or the final full suite (per release head) failed."""
    where = "the full suite" if full or batch_id is None else f"batch {_batch(batch_id)}"
    occurrence = candidate.rsplit("/", 1)[-1] if candidate else at.isoformat()
    scope = "full" if full or batch_id is None else _batch(batch_id)
    return AlertRaised(
        at=at,
        key=f"integration_test_failure/{scope}/{occurrence}",
        kind="integration_test_failure",
        message=f"{where}: integration tests failed: {summary}",
        batch_id=batch_id,
    )


def _last_sign_of_life(batch: BatchEntry) -> datetime | None:
    times = [batch.started_at] + [
        t for fu in batch.feature_units for t in (fu.started_at, fu.last_update)
    ]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _in_progress(batch: BatchEntry) -> bool:
    return batch.status in _IN_PROGRESS or any(fu.status in _ACTIVE for fu in batch.feature_units)


def watch_alerts(
    snapshot: StatusFile,
    now: datetime,
    *,
    stalled_after_s: float = STALLED_AFTER_MINUTES * 60,
    failure_rate_limit: float = FAILURE_RATE_LIMIT,
) -> list[AlertRaised]:
    """Stalled batches and batches failing too often, as of `now` (already raised ones too:
    the reducer drops repeats)."""
    if snapshot.orchestrator.status in _DONE_RELEASE:
        return []
    asking = bool(snapshot.orchestrator.awaiting)  # waiting for a person is not a stall
    found: list[AlertRaised] = []
    for batch in snapshot.batches:
        label = _batch(batch.batch_id)
        since = _last_sign_of_life(batch)
        if not asking and _in_progress(batch) and since is not None:
            quiet_s = (now - since).total_seconds()
            if quiet_s >= stalled_after_s:
                found.append(
                    AlertRaised(
                        at=now,
                        key=f"batch_stalled/{label}/{since.isoformat()}",
                        kind="batch_stalled",
                        message=(
                            f"batch {label}: no progress for {quiet_s / 60:.0f} min "
                            f"(since {since.isoformat(timespec='seconds')})"
                        ),
                        batch_id=batch.batch_id,
                    )
                )
        total = len(batch.feature_units)
        failing = [
            fu.fu_id for fu in batch.feature_units if fu.status in _FAILING or fu.attempts > 1
        ]
        if total and failing and len(failing) / total > failure_rate_limit:
            found.append(
                AlertRaised(
                    at=now,
                    key=f"failure_rate/{label}",
                    kind="failure_rate",
                    message=(
                        f"batch {label}: {len(failing)} of {total} FUs failed at least once "
                        f"({len(failing) / total:.0%} > {failure_rate_limit:.0%}): "
                        + ", ".join(failing)
                    ),
                    batch_id=batch.batch_id,
                )
            )
    return found
