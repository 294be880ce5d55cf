"""What each FU of the release has come to in this process, and what that adds up to."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from orchestrator.core.estimates import plan_durations_h
from orchestrator.core.scheduling import candidates
from orchestrator.engine.merge_queue import Delivery
from orchestrator.models.events import FuFinished, FuPlanEntry, ReleaseStarted
from orchestrator.models.release import ReleasePlan
from orchestrator.models.status import FuStatus, ReleaseStatus, StatusFile

_RESUME_SAME_ATTEMPT = {FuStatus.LAUNCHING.value, FuStatus.RUNNING.value, FuStatus.STALE.value}
# its branch was pushed: a restart merges it, never relaunches it
_DELIVERED = {FuStatus.DELIVERED.value, FuStatus.MERGED.value, FuStatus.COMPLETED.value}


@dataclass
class FuState:
    """An FU in this process. `done` is set once the outcome is final: landed, deferred,
    escalated for good (dependants in other batches wait on it); `merged` once it is in its
    batch's candidate (dependants in the same batch start from there)."""

    status: FuStatus = FuStatus.PENDING
    done: anyio.Event = field(default_factory=anyio.Event)
    merged: anyio.Event = field(default_factory=anyio.Event)
    branch: str | None = None
    next_attempt: int = 1
    budget_from: int = 1  # retries count from this attempt (kept across restarts)
    resume: tuple[str, str] | None = None  # (agent id, run id) of a run to adopt on restart
    delivered: Delivery | None = None  # its pushed branch: merge it, never relaunch it
    conflict_rounds: int = 0
    base_sha: str | None = None  # the commit a run being adopted started from
    requested: tuple[str, datetime] | None = None  # a follow-up asked for, its run not recorded

    def settle(self, status: FuStatus) -> None:
        self.status = status
        self.done.set()
        self.merged.set()  # nothing more to wait for (dependants check the status)

    def mark_merged(self) -> None:
        self.status = FuStatus.MERGED
        self.merged.set()

    def unmerge(self) -> None:
        """Its candidate was dropped or is rebuilt: same-batch dependants wait again."""
        if self.status is FuStatus.MERGED:
            self.status = FuStatus.DELIVERED
        if self.merged.is_set() and not self.done.is_set():
            self.merged = anyio.Event()

    def unsettle(self, *, keep_delivery: bool = True) -> None:
        """It runs again (a retry): dependants that have not started wait for the new outcome."""
        if not keep_delivery:
            self.delivered = None
            self.conflict_rounds = 0
        self.status = FuStatus.DELIVERED if self.delivered else FuStatus.PENDING
        if self.done.is_set():
            self.done = anyio.Event()
        if self.merged.is_set():
            self.merged = anyio.Event()


class FuOutcomes:
    """One FuState per FU of the plan, seeded from an earlier run's status file."""

    def __init__(self, plan: ReleasePlan, existing: StatusFile | None) -> None:
        self.plan = plan
        self.existing = existing
        self.estimates_h = plan_durations_h(plan)
        self.scheduled = candidates(plan, self.estimates_h)
        self.states = {unit.id: FuState() for unit in plan.feature_units}

    def __getitem__(self, fu_id: str) -> FuState:
        return self.states[fu_id]

    def __contains__(self, fu_id: object) -> bool:
        return fu_id in self.states

    def started_event(
        self, at: datetime, orchestrator_id: str, pid: int, run_nonce: str
    ) -> ReleaseStarted:
        batches = tuple(
            (
                batch.batch_id,
                tuple(
                    FuPlanEntry(
                        fu_id=fu_id,
                        priority=self.plan.fu(fu_id).priority.value,
                        risk_level=self.plan.fu(fu_id).risk_level.value,
                        estimate_h=self.plan.fu(fu_id).estimate_hours,
                    )
                    for fu_id in batch.feature_units
                    if fu_id in self.states
                ),
            )
            for batch in self.plan.batches
        )
        return ReleaseStarted(
            at=at,
            orchestrator_id=orchestrator_id,
            pid=pid,
            batches=batches,
            run_nonce=run_nonce,
            max_parallel_fus=self.plan.limits.effective_parallel,
        )

    async def wait_for(self, prereqs: tuple[str, ...], same_batch: set[str]) -> list[str]:
        """Wait until other batches' prerequisites landed and same-batch ones are merged into
        the candidate (or settled otherwise); what went wrong with them, if anything."""

        def pending() -> list[anyio.Event]:
            # re-checked after each wait: a `retry --all` may relaunch one we saw done
            events = [self[d].merged if d in same_batch else self[d].done for d in prereqs]
            return [e for e in events if not e.is_set()]

        while waits := pending():
            await waits[0].wait()
        return [
            f"{dep} is {self[dep].status.value}"
            for dep in prereqs
            if not (
                self[dep].status is FuStatus.COMPLETED
                or (dep in same_batch and self[dep].status is FuStatus.MERGED)
            )
        ]

    def settle_known(self, at: datetime, landed: dict[str, str]) -> list[FuFinished]:
        """FUs that will not run in this process: landed before (read from the release
        branch's trailers, not from the file), deferred, or in no batch."""
        events: list[FuFinished] = []
        for unit in self.plan.feature_units:
            state = self.states[unit.id]
            entry = self.existing.fu_entry(unit.id) if self.existing else None
            if entry is not None and entry.attempts > 0:
                # an active attempt is adopted (its recorded run, or same agentId → 409 →
                # adopt); else the next attempt
                # cancelled before its run was known (an abort during the create): the agent
                # may exist anyway; the same attempt's id finds it (409 → adopt), never a second
                unknown_run = entry.status == FuStatus.CANCELLED.value and entry.run_id is None
                active = entry.status in _RESUME_SAME_ATTEMPT or unknown_run
                state.next_attempt = entry.attempts if active else entry.attempts + 1
                state.budget_from = min(entry.retry_budget_from, state.next_attempt)
                if active and entry.worker_agent_id and entry.run_id:
                    state.resume = (entry.worker_agent_id, entry.run_id)
                    state.base_sha = entry.base_sha  # what the adopted agent started from
                state.conflict_rounds = entry.conflict_rounds
                if entry.run_requested_at is not None and entry.worker_agent_id:
                    state.requested = (entry.worker_agent_id, entry.run_requested_at)
                branch = entry.delivered_branch or entry.branch
                if entry.status in _DELIVERED and branch:
                    state.delivered = Delivery(unit.id, entry.worker_agent_id, branch)
                    state.status = FuStatus.DELIVERED
            if unit.id in landed:
                state.settle(FuStatus.COMPLETED)
            elif entry is not None and entry.status == FuStatus.DEFERRED.value:
                state.settle(FuStatus.DEFERRED)  # a human skipped it in an earlier run
            elif unit.id in self.plan.deferred:
                state.settle(FuStatus.SKIPPED)
                events.append(
                    FuFinished(
                        at=at,
                        fu_id=unit.id,
                        status=FuStatus.SKIPPED,
                        error="deferred by the manifest",
                    )
                )
            elif unit.id not in self.scheduled:
                state.settle(FuStatus.SKIPPED)
        return events

    def close_unstarted(self, at: datetime) -> list[FuFinished]:
        """After an abort no FU is left `pending`: those that never started say so."""
        events: list[FuFinished] = []
        for fu_id in self.scheduled:
            if self.states[fu_id].status is FuStatus.PENDING:
                self.states[fu_id].settle(FuStatus.CANCELLED)
                events.append(
                    FuFinished(
                        at=at,
                        fu_id=fu_id,
                        status=FuStatus.CANCELLED,
                        error="not started: the release was aborted",
                    )
                )
        return events

    def counts(self) -> dict[str, int]:
        return dict(Counter(state.status.value for state in self.states.values()))

    def release_status(self, *, aborted: bool, full_suite_failed: bool) -> ReleaseStatus:
        if aborted:
            return ReleaseStatus.ABORTED
        if full_suite_failed:
            return ReleaseStatus.FAILED
        scheduled = [self.states[fu_id].status for fu_id in self.scheduled]
        # FUs a human deferred (skip) leave the release complete, with the deferral recorded
        if all(s in {FuStatus.COMPLETED, FuStatus.DEFERRED} for s in scheduled):
            return ReleaseStatus.COMPLETED
        return ReleaseStatus.FAILED
