"""One FU's task: launch, follow and retry its agent runs until its branch is delivered, then
get it merged into the batch's candidate, sending conflicts back to the same agent.

Expected failures (run ERROR, timeout, stale, no branch pushed, API errors) become status events
and an outcome; only bugs escape. On cancellation (abort) the active run is cancelled before
re-raising; on a detach it is left running for the next orchd to adopt. A single attempt
(launch, follow, judge) is in fu_attempt.py; this module is the loop around it.
"""

from __future__ import annotations

import anyio

from orchestrator.core.attempts import Escalate, FailureKind, after_failure
from orchestrator.core.prompt import conflict_prompt
from orchestrator.engine.fu_attempt import AttemptFailure, FuAttempts
from orchestrator.engine.merge_queue import Conflict, Merged
from orchestrator.models.events import (
    ErrorRecorded,
    FuConflict,
    FuFinished,
    FuMerged,
    FuRetrying,
    FuWaitingForCapacity,
)
from orchestrator.models.status import FuStatus

_LAUNCH_REPEATS = 5  # busy-API launch failures that do not spend the FU's retries


class FuDriver(FuAttempts):
    """Drives one FU; holds what it needs so the loop reads top to bottom."""

    async def drive(self) -> FuStatus:
        """Deliver (unless a restart found it delivered), then merge; MERGED or NEEDS_HUMAN."""
        try:
            if self.delivered is None:
                status = await self._deliver()
                if status is not FuStatus.DELIVERED:
                    return status
            return await self._merge()
        except anyio.get_cancelled_exc_class():
            # aborted with a create's fate unknown; a detach leaves it: the next orchd launches
            # the same attempt's agentId and adopts the agent if it was made (409)
            if self._unconfirmed is not None and not self._detaching:
                await self.care.stop_orphan(self._unconfirmed)
            raise

    def escalate(self, message: str) -> FuStatus:
        """The FU needs a human: recorded (status, error log), NEEDS_HUMAN returned."""
        self.last_error = message
        self.log.warning("fu.escalated", error=message, attempt=self.attempt)
        now = self.settings.now()
        self.emit(
            FuFinished(at=now, fu_id=self.unit.id, status=FuStatus.NEEDS_HUMAN, error=message)
        )
        self.emit(
            ErrorRecorded(at=now, fu_id=self.unit.id, batch_id=self.batch_id, message=message)
        )
        return FuStatus.NEEDS_HUMAN

    async def _merge(self) -> FuStatus:
        """Merge rounds: a conflict goes back to the agent, up to `max_conflict_rounds`."""
        assert self.delivered is not None
        while True:
            result = await self.queue.merge(self.batch_id, self.delivered)
            if isinstance(result, Merged):
                self.emit(
                    FuMerged(
                        at=self.settings.now(),
                        fu_id=self.unit.id,
                        batch_id=self.batch_id,
                        merge_commit=result.merge_sha,
                        candidate=result.candidate,
                        candidate_sha=result.candidate_sha,
                    )
                )
                return FuStatus.MERGED
            if not isinstance(result, Conflict):
                return self.escalate(f"not merged: {result.reason}")
            self.conflict_rounds += 1
            files = ", ".join(result.files) or "(unknown files)"
            self.emit(
                FuConflict(
                    at=self.settings.now(),
                    fu_id=self.unit.id,
                    files=result.files,
                    round=self.conflict_rounds,
                )
            )
            if self.conflict_rounds > self.settings.max_conflict_rounds:
                return self.escalate(
                    f"merge conflict in {files} with the release candidate {result.onto[:12]} "
                    f"after {self.settings.max_conflict_rounds} conflict round(s)"
                )
            self.log.info("fu.conflict", files=list(result.files), round=self.conflict_rounds)
            text = conflict_prompt(
                fu_id=self.unit.id,
                branch=self.delivered.branch,
                onto_sha=result.onto,
                onto_ref=result.onto_ref,
                files=result.files,
                round_=self.conflict_rounds,
            )
            failure = await self.follow_up(text)
            if failure is not None:
                self.log.info("fu.conflict_round_failed", error=failure.message)

    async def follow_up(self, text: str) -> AttemptFailure | None:
        """One follow-up run on the delivering agent (conflict or gate fix), in a slot."""
        assert self.delivered is not None
        agent_id = self.delivered.agent_id
        if agent_id is None:
            return AttemptFailure(FailureKind.API_FATAL, "no agent to follow up with")
        while True:
            async with self.slots.slot(self.candidate):
                failure = await self._attempt_once(follow_up=(agent_id, text))
            if failure is None or failure.kind is not FailureKind.CAPACITY:
                return failure
            await self._wait_for_capacity(failure.message, failure.launch_retry_after_s)

    async def _wait_for_capacity(self, reason: str, retry_after_s: float | None) -> None:
        self.emit(FuWaitingForCapacity(at=self.settings.now(), fu_id=self.unit.id, reason=reason))
        await self.care.wait_for_capacity(reason, retry_after_s)

    async def _release_agent(self) -> None:
        """An agent orchd will not follow up holds an account slot until archived."""
        if self._last_agent_id is not None:
            await self.care.archive(self._last_agent_id)

    async def _deliver(self) -> FuStatus:
        """Attempts until a branch is delivered or the FU escalates."""
        first = self.budget_from  # a restart does not grant fresh retries
        repeats = 0
        while True:
            async with self.slots.slot(self.candidate):
                failure = await self._attempt_once()
                if (
                    failure is not None
                    and failure.kind is not FailureKind.CAPACITY
                    and not self.settings.retry.follow_up_on_same_agent
                ):
                    await self._release_agent()  # the next attempt is a new agent
            if failure is None:
                return FuStatus.DELIVERED
            if failure.kind is FailureKind.CAPACITY:
                await self._wait_for_capacity(failure.message, failure.launch_retry_after_s)
                continue  # the same attempt: waiting for a slot spends no retry
            if failure.launch_retry_after_s is not None and repeats < _LAUNCH_REPEATS:
                # A busy or flaky API (429 beyond the client's patience, 5xx) is no failed
                # attempt: wait and launch the same attempt again. Same agentId, so an agent
                # that was created after all is adopted (409), never doubled.
                repeats += 1
                delay_s = max(failure.launch_retry_after_s, self.settings.retry.backoff_initial_s)
                self.log.info("agent.launch_deferred", delay_s=delay_s, error=failure.message)
                await anyio.sleep(delay_s)
                continue
            decision = after_failure(
                self.unit.priority, self.attempt - first + 1, failure.kind, self.settings.retry
            )
            if isinstance(decision, Escalate):
                await self._release_agent()
                return self.escalate(f"{failure.message}; escalated: {decision.reason}")
            self.log.info(
                "fu.retry_scheduled",
                attempt=self.attempt,
                delay_s=decision.delay_s,
                error=failure.message,
            )
            self.emit(
                FuRetrying(
                    at=self.settings.now(),
                    fu_id=self.unit.id,
                    failed_attempt=self.attempt,
                    error=failure.message,
                    retry_in_s=decision.delay_s,
                )
            )
            await anyio.sleep(decision.delay_s)
            self._last_failure = failure.message
            self.attempt += 1
