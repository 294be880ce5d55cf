"""A batch's FU tasks: each waits for its dependencies and the checkpoints before it, starts
from the commit they made, runs its `FuDriver`, and records what the driver returns.

Separate from supervisor.py, which decides what happens to the batch (land it, ask a human,
skip it); this module only runs FUs and keeps their drivers reachable for abort and detach.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import anyio
import structlog

from orchestrator.adapters.git import GitError
from orchestrator.core.scheduling import all_prerequisites
from orchestrator.engine.api import AgentApi
from orchestrator.engine.asking import Asker
from orchestrator.engine.fu_outcomes import FuOutcomes
from orchestrator.engine.fu_task import FuDriver
from orchestrator.engine.merge_queue import MergeQueue
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import FuFinished, StatusEvent
from orchestrator.models.release import Batch, ReleasePlan
from orchestrator.models.status import BatchStatus, FuStatus


class FuRuns:
    """Runs FUs of a batch as one task group; `abort` and `detach` reach every driver."""

    def __init__(
        self,
        *,
        plan: ReleasePlan,
        api: AgentApi,
        settings: EngineSettings,
        slots: SlotPool,
        queue: MergeQueue,
        fus: FuOutcomes,
        emit: Callable[[StatusEvent], None],
        emit_durable: Callable[[StatusEvent], Awaitable[None]],
        asker: Asker,
        run_nonce: str,
        keep_siblings_on_failure: bool,
        holds: dict[int, anyio.Event],
        batch_status: Callable[[Batch, BatchStatus], None],
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self.plan = plan
        self._needs = all_prerequisites(plan)  # one pass: per FU it is O(plan)
        self.api = api
        self.settings = settings
        self.slots = slots
        self.queue = queue
        self._fus = fus
        self._cands = fus.scheduled
        self._emit = emit
        self._emit_durable = emit_durable
        self.asker = asker
        self.run_nonce = run_nonce
        self.keep_siblings_on_failure = keep_siblings_on_failure
        self._holds = holds  # set by the supervisor once the checkpoint is answered
        self._batch_status = batch_status
        self.log = log
        self._index = {batch.batch_id: i for i, batch in enumerate(plan.batches)}
        self._batch_started: set[Decimal] = set()
        self._drivers: set[FuDriver] = set()
        self._aborted = False
        self._detached = False

    def abort(self) -> None:
        """Every driver hurries (a create in flight gets the cancel grace); settled on cancel."""
        self._aborted = True
        for driver in self._drivers:
            driver.hurry(self.settings.cancel_grace_s)

    def detach(self) -> list[str]:
        """Every driver leaves its run going; returns the FUs whose agents keep running."""
        self._detached = True
        left_running = sorted(d.unit.id for d in self._drivers if d.active_agent)
        for driver in self._drivers:
            driver.detach(self.settings.cancel_grace_s)
        return left_running

    async def run(self, batch: Batch, fu_ids: list[str]) -> str | None:
        """One task per FU; the first escalation cancels the batch's other FUs (unless "fail")."""
        failures: list[str] = []
        async with anyio.create_task_group() as group:
            for fu_id in fu_ids:
                group.start_soon(self._run_fu, batch, fu_id, group.cancel_scope, failures)
        return "; ".join(failures) if failures else None

    async def fix(self, batch: Batch, fu_id: str, text: str) -> None:
        """One gate-fix follow-up on the FU's delivering agent."""
        driver = self._driver(batch, fu_id, base_sha=None, contained=())
        self._drivers.add(driver)
        try:
            outcome = await driver.follow_up(text)
        finally:
            self._drivers.discard(driver)
        if outcome is not None:
            self.log.info("fu.fix_failed", fu_id=fu_id, error=outcome.message)

    async def _run_fu(
        self, batch: Batch, fu_id: str, batch_scope: anyio.CancelScope, failures: list[str]
    ) -> None:
        state = self._fus[fu_id]
        if state.delivered is None:
            state.status = FuStatus.PENDING
        prereqs = self._needs.get(fu_id, ())
        same = {d for d in prereqs if self.plan.batch_of(d) == batch.batch_id}
        failed = await self._fus.wait_for(prereqs, same)
        if failed:
            message = "blocked: dependency " + ", ".join(failed)
            self.log.warning("fu.blocked", fu_id=fu_id, reason=message)
            self._emit(
                FuFinished(
                    at=self.settings.now(), fu_id=fu_id, status=FuStatus.BLOCKED, error=message
                )
            )
            state.settle(FuStatus.BLOCKED)
            return
        for held, event in self._holds.items():
            if held < self._index[batch.batch_id]:
                await event.wait()
        if batch.batch_id not in self._batch_started:
            self._batch_started.add(batch.batch_id)
            self._batch_status(batch, BatchStatus.RUNNING)
        base: str | None = None
        if state.resume is not None and state.base_sha:
            base = state.base_sha  # an adopted run keeps the commit it really started from
        elif state.delivered is None:  # start from exactly what its dependencies made
            base = (self.queue.candidate_sha(batch.batch_id) if same else None) or self.queue.head
        driver = self._driver(batch, fu_id, base_sha=base, contained=prereqs)
        state.resume = None  # adopt a recorded run once; later attempts launch anew
        state.requested = None
        self._drivers.add(driver)
        try:
            status = await driver.drive()
        except GitError as exc:  # merging its branch: a person decides (retry once it is back)
            status = driver.escalate(f"git failed while merging {fu_id}: {exc}")
        except anyio.get_cancelled_exc_class():
            if self._detached:
                raise  # the file keeps its run as it was: the next orchd adopts it
            state.status = FuStatus.CANCELLED
            state.next_attempt = driver.attempt + 1
            state.delivered = driver.delivered
            reason = "aborted" if self._aborted else "cancelled: its batch failed"
            if driver.delivered is None:
                self._emit(
                    FuFinished(
                        at=self.settings.now(),
                        fu_id=fu_id,
                        status=FuStatus.CANCELLED,
                        error=reason,
                    )
                )
            else:
                state.status = FuStatus.DELIVERED  # its branch is pushed: merged on restart
            if self._aborted:
                state.settle(state.status)
            raise
        finally:
            self._drivers.discard(driver)
        state.next_attempt = driver.attempt + 1
        state.branch = driver.branch or state.branch
        state.delivered = driver.delivered
        state.conflict_rounds = driver.conflict_rounds
        if status is FuStatus.MERGED:
            state.mark_merged()
            return
        if self.keep_siblings_on_failure:
            state.settle(status)  # "fail": final now; dependants see it and are blocked
        else:
            state.status = status  # final only once a human has decided
        failures.append(f"{fu_id} {status.value}: {driver.last_error or ''}".rstrip(": "))
        self.asker.notify(
            "fu.escalated",
            f"{self.plan.release_id}: {fu_id} needs a human: {driver.last_error}",
            fu_id=fu_id,
            batch_id=batch.batch_id,
        )
        if self._cancels_batch():
            batch_scope.cancel()

    def _driver(
        self, batch: Batch, fu_id: str, *, base_sha: str | None, contained: tuple[str, ...]
    ) -> FuDriver:
        state = self._fus[fu_id]
        driver = FuDriver(
            plan=self.plan,
            unit=self.plan.fu(fu_id),
            candidate=self._cands[fu_id],
            api=self.api,
            settings=self.settings,
            slots=self.slots,
            emit=self._emit,
            first_attempt=state.next_attempt,
            queue=self.queue,
            batch_id=batch.batch_id,
            base_sha=base_sha,
            contained=contained,
            resume=state.resume,
            delivered=state.delivered,
            conflict_rounds=state.conflict_rounds,
            run_nonce=self.run_nonce,
            budget_from=state.budget_from,
            emit_durable=self._emit_durable,
            requested=state.requested,
        )
        if self._detached:  # made while the detach is landing: it must not cancel either
            driver.detach(self.settings.cancel_grace_s)
        return driver

    def _cancels_batch(self) -> bool:
        """Issue-4 behaviour ("fail"): keep running siblings; otherwise stop the batch."""
        return not self.keep_siblings_on_failure
