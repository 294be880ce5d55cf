"""The status reducer: `apply(snapshot, event) -> snapshot`, pure and copy-on-write.

Only the writer task calls it. It copies just the path it changes (file → batch → FU entry), so a
burst of events over hundreds of FUs costs little, and an old snapshot is never mutated.

It also keeps the clocks a restart must not reset: the release's first start and end, and each
FU's agent time (every run that ended, summed; an adopted run goes on from its recorded start).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from orchestrator.core.release_timing import release_ended_at, run_closed
from orchestrator.models.events import (
    AlertRaised,
    AwaitingDecision,
    BatchChanged,
    BatchLanded,
    CandidateDropped,
    CandidateGated,
    DecisionTaken,
    ErrorRecorded,
    FuConflict,
    FuDelivered,
    FuFinished,
    FuLaunching,
    FuMerged,
    FuProgress,
    FuRetrying,
    FuRunning,
    FuRunRequested,
    FuStale,
    FuWaitingForCapacity,
    GateFinished,
    IntegrationBranch,
    ReleaseFinished,
    ReleaseStarted,
    StatusEvent,
)
from orchestrator.models.status import (
    AlertEntry,
    BatchEntry,
    BatchStatus,
    ErrorEntry,
    FuEntry,
    FuStatus,
    Gate,
    GateTest,
    OrchestratorEntry,
    ReleaseStatus,
    StatusFile,
)

_TERMINAL_BATCH = {BatchStatus.COMPLETED.value, BatchStatus.SKIPPED.value}


def initial_status(release_id: str, orchestrator_id: str) -> StatusFile:
    return StatusFile(
        release_id=release_id,
        orchestrator=OrchestratorEntry(
            agent_id=orchestrator_id, status=ReleaseStatus.PENDING.value
        ),
    )


def apply(snapshot: StatusFile, event: StatusEvent) -> StatusFile:
    """Return the snapshot with `event` applied; unknown FU or batch ids are ignored."""
    match event:
        case ReleaseStarted():
            return _start(snapshot, event)
        case FuLaunching():
            return _launching(snapshot, event)
        case FuRunRequested():
            return _update_fu(
                snapshot,
                event.fu_id,
                worker_agent_id=event.agent_id,
                run_requested_at=event.at,
                last_update=event.at,
            )
        case FuRunning():
            return _running(snapshot, event)
        case FuProgress():
            return _progress(snapshot, event)
        case FuStale():
            return _update_fu(snapshot, event.fu_id, status=FuStatus.STALE.value)
        case FuRetrying():
            return _update_fu(
                snapshot,
                event.fu_id,
                status=FuStatus.RETRYING.value,
                error=event.error,
                last_update=event.at,
                **_run_ended(snapshot, event.fu_id, event.at),
            )
        case FuWaitingForCapacity():
            return _update_fu(
                snapshot,
                event.fu_id,
                status=FuStatus.WAITING_FOR_CAPACITY.value,
                error=event.reason,
                last_update=event.at,
                **_run_ended(snapshot, event.fu_id, event.at),
            )
        case FuFinished():
            return _finish_fu(snapshot, event)
        case FuDelivered():
            changes: dict[str, Any] = {
                "status": FuStatus.DELIVERED.value,
                "delivered_branch": event.branch,
                "delivered_sha": event.sha,
                "branch": event.branch,
                "last_update": event.at,
                "error": None,
                **_run_ended(snapshot, event.fu_id, event.at),
            }
            if event.summary is not None:
                changes["summary"] = event.summary
            if event.pr_url:
                changes["pr_url"] = event.pr_url
            delivered = _entry(snapshot, event.fu_id)
            if delivered is not None and delivered.started_at is not None:
                changes["duration_s"] = round((event.at - delivered.started_at).total_seconds(), 3)
            return _update_fu(snapshot, event.fu_id, **changes)
        case FuMerged():
            result = _update_fu(
                snapshot, event.fu_id, status=FuStatus.MERGED.value, last_update=event.at
            )
            return _update_batch(
                result, event.batch_id, candidate=event.candidate, candidate_sha=event.candidate_sha
            )
        case FuConflict():
            return _update_fu(
                snapshot,
                event.fu_id,
                conflict_rounds=event.round,
                last_update=event.at,
                error=f"merge conflict (round {event.round}) in: {', '.join(event.files)}",
            )
        case BatchLanded():
            return _landed(snapshot, event)
        case CandidateGated():
            return _update_batch(
                snapshot,
                event.batch_id,
                candidate=event.candidate,
                candidate_sha=event.candidate_sha,
            )
        case CandidateDropped():
            result = _update_batch(snapshot, event.batch_id, candidate=None, candidate_sha=None)
            for batch in result.batches:
                if batch.batch_id == event.batch_id:
                    for unit in batch.feature_units:
                        if unit.status == FuStatus.MERGED.value:
                            result = _update_fu(result, unit.fu_id, status=FuStatus.DELIVERED.value)
            return result
        case IntegrationBranch():
            fields = {"integration_branch": event.branch, "integration_sha": event.sha}
            if event.base_branch is not None:
                fields["base_branch"] = event.base_branch
            return snapshot.model_copy(update=fields)
        case BatchChanged():
            return _batch_changed(snapshot, event)
        case ErrorRecorded():
            entry = ErrorEntry(
                at=event.at, fu_id=event.fu_id, batch_id=event.batch_id, message=event.message
            )
            return snapshot.model_copy(update={"errors": [*snapshot.errors, entry]})
        case AlertRaised():
            if any(alert.key == event.key for alert in snapshot.alerts):
                return snapshot  # once per occurrence
            raised = AlertEntry(
                key=event.key,
                kind=event.kind,
                message=event.message,
                at=event.at,
                batch_id=event.batch_id,
                fu_id=event.fu_id,
            )
            return snapshot.model_copy(update={"alerts": [*snapshot.alerts, raised]})
        case GateFinished():
            return _gate(snapshot, event)
        case AwaitingDecision():
            awaiting = {
                "kind": event.kind,
                "batch_id": _json_batch(event.batch_id),
                "choices": list(event.choices),
                "since": event.at.isoformat(),
                "deadline": event.deadline.isoformat() if event.deadline else None,
                "reason": event.reason,
            }
            orch = snapshot.orchestrator.model_copy(update={"awaiting": awaiting})
            result = snapshot.model_copy(update={"orchestrator": orch})
            if event.kind == "batch_failure":
                result = _batch_changed(
                    result,
                    BatchChanged(
                        at=event.at, batch_id=event.batch_id, status=BatchStatus.AWAITING_DECISION
                    ),
                )
            return result
        case DecisionTaken():
            record = {
                "at": event.at.isoformat(),
                "kind": event.kind,
                "batch_id": _json_batch(event.batch_id),
                "action": event.action,
                "by": event.by,
                "reason": event.reason,
            }
            decisions = [*(getattr(snapshot, "decisions", None) or []), record]
            orch = snapshot.orchestrator.model_copy(update={"awaiting": None})
            return snapshot.model_copy(update={"orchestrator": orch, "decisions": decisions})
        case ReleaseFinished():
            orch = snapshot.orchestrator.model_copy(
                update={
                    "status": event.status.value,
                    "completed_at": event.at,
                    "awaiting": None,
                    "ended_at": release_ended_at(snapshot, event.at),
                }
            )
            update: dict[str, Any] = {"orchestrator": orch}
            if event.summary:
                update["summary"] = dict(event.summary)
            return snapshot.model_copy(update=update)
    raise TypeError(f"unknown status event {event!r}")  # pragma: no cover - exhaustive match


def _json_batch(batch_id: Decimal) -> int | float:
    return int(batch_id) if batch_id == batch_id.to_integral_value() else float(batch_id)


def _gate(snapshot: StatusFile, event: GateFinished) -> StatusFile:
    gate = Gate(status=event.status, tests=[GateTest.model_validate(t) for t in event.tests])
    if event.batch_id is None:
        return snapshot.model_copy(update={"full_suite": gate.model_dump(mode="json")})
    batches = [
        b.model_copy(update={"gate": gate}) if b.batch_id == event.batch_id else b
        for b in snapshot.batches
    ]
    return snapshot.model_copy(update={"batches": batches})


def _start(snapshot: StatusFile, event: ReleaseStarted) -> StatusFile:
    """Lay out every planned batch and FU, keeping what an earlier run already recorded."""
    known = {e.fu_id: e for b in snapshot.batches for e in b.feature_units}
    old_batches = {b.batch_id: b for b in snapshot.batches}
    batches: list[BatchEntry] = []
    for batch_id, units in event.batches:
        old = old_batches.get(batch_id)
        entries = []
        for unit in units:
            prior = known.get(unit.fu_id)
            if prior is None:
                entries.append(
                    FuEntry(
                        fu_id=unit.fu_id,
                        priority=unit.priority,
                        risk_level=unit.risk_level,
                        estimate_h=unit.estimate_h,
                    )
                )
            else:
                planned = {
                    "priority": unit.priority,
                    "risk_level": unit.risk_level,
                    "estimate_h": unit.estimate_h,
                }
                entries.append(prior.model_copy(update=planned))
        if old is None:
            batches.append(BatchEntry(batch_id=batch_id, feature_units=entries))
        else:
            batches.append(old.model_copy(update={"feature_units": entries}))
    before = snapshot.orchestrator
    was_completed = before.status == ReleaseStatus.COMPLETED.value
    orch = before.model_copy(
        update={
            "agent_id": event.orchestrator_id,
            "started_at": event.at,
            "status": ReleaseStatus.RUNNING.value,
            "pid": event.pid,
            "completed_at": None,
            # an older file knows only its last start: the best guess at the first
            "first_started_at": before.first_started_at or before.started_at or event.at,
            # a completed release keeps its end unless this run does work (release_ended_at)
            "ended_at": (before.ended_at or before.completed_at) if was_completed else None,
            "max_parallel_fus": event.max_parallel_fus,
        }
    )
    update: dict[str, Any] = {"orchestrator": orch, "batches": batches}
    if event.run_nonce is not None:
        update["run_nonce"] = event.run_nonce
    return snapshot.model_copy(update=update)


def _launching(snapshot: StatusFile, event: FuLaunching) -> StatusFile:
    """A new attempt, or (a restart) the same attempt's agent found again: an adopted run
    keeps its start, so neither its elapsed time nor its agent time restarts from zero."""
    entry = _entry(snapshot, event.fu_id)
    if entry is None:
        return snapshot
    changes: dict[str, Any] = {
        "status": FuStatus.LAUNCHING.value,
        "worker_agent_id": event.agent_id,
        "run_id": None,
        "attempts": event.attempt,
        "progress": 0.0,
        "started_at": event.at,
        "last_update": event.at,
        "completed_at": None,
        "duration_s": None,
        "error": None,
        "note": None,
        "base_sha": event.base_sha,
        "retry_budget_from": event.retry_budget_from,
        "delivered_branch": None,
        "delivered_sha": None,
        "merge_commit": None,
        "landed_at": None,
    }
    adopted = (
        entry.run_started_at is not None
        and entry.attempts == event.attempt
        and entry.worker_agent_id == event.agent_id
    )
    if adopted:
        changes["started_at"] = entry.started_at or entry.run_started_at
    elif entry.run_started_at is not None:
        # a run an earlier process left open and this one does not adopt: it ran at least
        # until the last news of it
        changes.update(_run_ended(snapshot, event.fu_id, entry.last_update or event.at))
    return _update_fu(snapshot, event.fu_id, **changes)


def _running(snapshot: StatusFile, event: FuRunning) -> StatusFile:
    """The run is known: it opens now, or at its `createdAt` when that is earlier (adopted)."""
    entry = _entry(snapshot, event.fu_id)
    if entry is None:
        return snapshot
    changes: dict[str, Any] = {
        "status": FuStatus.RUNNING.value,
        "worker_agent_id": event.agent_id,
        "run_id": event.run_id,
        "run_requested_at": None,
        "last_update": event.at,
    }
    began = min(event.at, event.run_created_at) if event.run_created_at else event.at
    if entry.run_started_at is None or began < entry.run_started_at:
        changes["run_started_at"] = began
    if entry.started_at is not None and began < entry.started_at:
        changes["started_at"] = began
    return _update_fu(snapshot, event.fu_id, **changes)


def _run_ended(snapshot: StatusFile, fu_id: str, at: datetime) -> dict[str, Any]:
    entry = _entry(snapshot, fu_id)
    return {} if entry is None else run_closed(entry, at)


def _progress(snapshot: StatusFile, event: FuProgress) -> StatusFile:
    entry = _entry(snapshot, event.fu_id)
    if entry is None:
        return snapshot
    update: dict[str, Any] = {"last_update": event.at}
    if event.progress is not None:
        update["progress"] = max(entry.progress, event.progress)
    if event.branch:
        update["branch"] = event.branch
    if event.pr_url:
        update["pr_url"] = event.pr_url
    if event.remark:
        update["note"] = event.remark
    if entry.status == FuStatus.STALE.value:
        update["status"] = FuStatus.RUNNING.value
    return _update_fu(snapshot, event.fu_id, **update)


def _finish_fu(snapshot: StatusFile, event: FuFinished) -> StatusFile:
    entry = _entry(snapshot, event.fu_id)
    if entry is None:
        return snapshot
    update: dict[str, Any] = {
        "status": event.status.value,
        "last_update": event.at,
        "completed_at": event.at,
        "error": event.error,
        **_run_ended(snapshot, event.fu_id, event.at),
    }
    if entry.started_at is not None:
        update["duration_s"] = round((event.at - entry.started_at).total_seconds(), 3)
    if event.summary is not None:
        update["summary"] = event.summary
    if event.branch:
        update["branch"] = event.branch
    if event.pr_url:
        update["pr_url"] = event.pr_url
    completed = snapshot.completed_fus
    if event.status is FuStatus.COMPLETED:
        update["progress"] = 1.0
        if event.fu_id not in completed:
            completed = [*completed, event.fu_id]
    elif event.fu_id in completed:
        completed = [fu for fu in completed if fu != event.fu_id]
    result = _update_fu(snapshot, event.fu_id, **update)
    return result.model_copy(update={"completed_fus": completed})


def _batch_changed(snapshot: StatusFile, event: BatchChanged) -> StatusFile:
    batches = []
    for batch in snapshot.batches:
        if batch.batch_id == event.batch_id:
            update: dict[str, Any] = {"status": event.status.value}
            if event.status is BatchStatus.RUNNING and batch.started_at is None:
                update["started_at"] = event.at
            if event.status.value in _TERMINAL_BATCH:
                update["completed_at"] = event.at
            batch = batch.model_copy(update=update)
        batches.append(batch)
    orch = snapshot.orchestrator.model_copy(update={"current_batch": _current_batch(batches)})
    return snapshot.model_copy(update={"batches": batches, "orchestrator": orch})


def _current_batch(batches: list[BatchEntry]) -> Decimal | None:
    """The first batch in schedule order that is not finished: what a reader is waiting on."""
    for batch in batches:
        if batch.status not in _TERMINAL_BATCH:
            return batch.batch_id
    return batches[-1].batch_id if batches else None


def _landed(snapshot: StatusFile, event: BatchLanded) -> StatusFile:
    """Every FU of the landed candidate is done: merge commit, landing time, completed."""
    result = _update_batch(snapshot, event.batch_id, landed_sha=event.sha)
    completed = list(result.completed_fus)
    for fu_id, merge in event.merges:
        entry = _entry(result, fu_id)
        if entry is None:
            continue
        changes: dict[str, Any] = {
            "status": FuStatus.COMPLETED.value,
            "merge_commit": merge,
            "landed_at": event.at,
            "completed_at": event.at,
            "last_update": event.at,
            "progress": 1.0,
            "error": None,
        }
        if entry.started_at is not None and entry.duration_s is None:
            changes["duration_s"] = round((event.at - entry.started_at).total_seconds(), 3)
        result = _update_fu(result, fu_id, **changes)
        if fu_id not in completed:
            completed.append(fu_id)
    return result.model_copy(update={"completed_fus": completed, "integration_sha": event.sha})


def _update_batch(snapshot: StatusFile, batch_id: Decimal, **changes: Any) -> StatusFile:
    batches = [
        b.model_copy(update=changes) if b.batch_id == batch_id else b for b in snapshot.batches
    ]
    return snapshot.model_copy(update={"batches": batches})


_PLACES: dict[str, tuple[int, int]] = {}
"""Where an FU's entry was last found (batch index, position): a hint that makes finding it
O(1) when thousands of FUs are tracked. Checked before use and found afresh when stale, so it
changes nothing but speed; copy-on-write keeps places, only a new layout moves them."""
_MAX_PLACES = 100_000


def _locate(snapshot: StatusFile, fu_id: str) -> tuple[int, int] | None:
    """The batch index and position of the FU's (first) entry, or None."""
    place = _PLACES.get(fu_id)
    if place is not None:
        index, position = place
        if index < len(snapshot.batches):
            units = snapshot.batches[index].feature_units
            if position < len(units) and units[position].fu_id == fu_id:
                return place  # an FU is in one batch once (the plan checks it)
    for index, batch in enumerate(snapshot.batches):
        for position, entry in enumerate(batch.feature_units):
            if entry.fu_id == fu_id:
                if len(_PLACES) >= _MAX_PLACES:
                    _PLACES.clear()
                _PLACES[fu_id] = (index, position)
                return index, position
    return None


def _entry(snapshot: StatusFile, fu_id: str) -> FuEntry | None:
    """`snapshot.fu_entry(fu_id)`, found through `_locate`."""
    place = _locate(snapshot, fu_id)
    return None if place is None else snapshot.batches[place[0]].feature_units[place[1]]


def _update_fu(snapshot: StatusFile, fu_id: str, **changes: Any) -> StatusFile:
    place = _locate(snapshot, fu_id)
    if place is None:
        return snapshot
    index, position = place
    batches = list(snapshot.batches)
    units = list(batches[index].feature_units)
    units[position] = units[position].model_copy(update=changes)
    batches[index] = batches[index].model_copy(update={"feature_units": units})
    return snapshot.model_copy(update={"batches": batches})
