"""One attempt of an FU's agent: launch it (create, adopt a recorded run, or a follow-up run
on the same agent), follow the run to its end, and judge the end (delivered, or which failure).

Separate from fu_task.py, which decides what to do with the result (retry, escalate, merge,
send conflicts back): this module is where a cancellation or detach meets a run in flight.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import anyio
import structlog

from orchestrator.adapters.cursor.errors import (
    AgentCapacity,
    CursorError,
)
from orchestrator.adapters.cursor.models import (
    CreateAgentRequest,
    CreateRunRequest,
    Prompt,
    Run,
    RunStatus,
)
from orchestrator.core.agent_ids import agent_id_for
from orchestrator.core.alerts import agent_timeout
from orchestrator.core.attempts import FailureKind
from orchestrator.core.progress import progress_of
from orchestrator.core.scheduling import Candidate
from orchestrator.engine.agent_care import AgentCare
from orchestrator.engine.agent_request import create_request, retry_request
from orchestrator.engine.api import AgentApi
from orchestrator.engine.merge_queue import Delivery, MergeQueue
from orchestrator.engine.run_watch import RunWatcher, WatchEnd, facts_of, watch_run
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.slots import SlotPool
from orchestrator.models.events import (
    FuDelivered,
    FuLaunching,
    FuProgress,
    FuRunning,
    FuRunRequested,
    FuStale,
    StatusEvent,
)
from orchestrator.models.release import FeatureUnit, ReleasePlan

log = structlog.get_logger("orchd.fu")

_RUN_FAILURES = {
    RunStatus.ERROR: FailureKind.RUN_ERROR,
    RunStatus.EXPIRED: FailureKind.RUN_EXPIRED,
    RunStatus.CANCELLED: FailureKind.RUN_CANCELLED,
}


@dataclass(frozen=True)
class AttemptFailure:
    kind: FailureKind
    message: str
    launch_retry_after_s: float | None = None  # a launch the API asked us to repeat later


class FuAttempts:
    """One FU's agent runs, one at a time: what an attempt needs and what it leaves behind
    (attempt number, active run, delivered branch). `FuDriver` loops over them."""

    def __init__(
        self,
        *,
        plan: ReleasePlan,
        unit: FeatureUnit,
        candidate: Candidate,
        api: AgentApi,
        settings: EngineSettings,
        slots: SlotPool,
        emit: Callable[[StatusEvent], None],
        first_attempt: int,
        queue: MergeQueue,
        batch_id: Decimal,
        base_sha: str | None = None,
        contained: tuple[str, ...] = (),
        resume: tuple[str, str] | None = None,
        delivered: Delivery | None = None,
        conflict_rounds: int = 0,
        run_nonce: str = "",
        budget_from: int | None = None,
        emit_durable: Callable[[StatusEvent], Awaitable[None]] | None = None,
        requested: tuple[str, datetime] | None = None,
    ) -> None:
        self.plan = plan
        self.unit = unit
        self.candidate = candidate
        self.api = api
        self.settings = settings
        self.slots = slots
        self.emit = emit
        self.attempt = first_attempt
        self._active: Run | None = None
        self.branch: str | None = None
        self.last_error: str | None = None
        self._last_agent_id: str | None = None
        self._last_failure: str | None = None
        self._resume = resume
        self._shield: anyio.CancelScope | None = None
        self._hurry_s: float | None = None
        self._detaching = False  # orchd is detaching: cancel nothing, archive nothing
        self.queue = queue
        self.batch_id = batch_id
        self.base_sha = base_sha
        self.contained = contained
        self.delivered = delivered
        self.conflict_rounds = conflict_rounds
        self.run_nonce = run_nonce
        self.budget_from = budget_from or first_attempt
        self._unconfirmed: str | None = None  # a create whose answer orchd has not seen
        self._emit_durable = emit_durable
        self._requested = requested  # a follow-up an earlier process asked for: find its run
        self.log = log.bind(release_id=plan.release_id, fu_id=unit.id)
        self.care = AgentCare(api, settings, slots, self.log)

    async def _attempt_once(
        self, follow_up: tuple[str, str] | None = None
    ) -> AttemptFailure | None:
        """One run: a new attempt (create, or continue the last agent), or with `follow_up`
        (agent id, prompt) a conflict/fix run on the agent that delivered."""
        if follow_up is not None:
            agent_id, text = follow_up
            target: tuple[str, CreateRunRequest] | None = (
                agent_id,
                CreateRunRequest(prompt=Prompt(text=text)),
            )
        else:
            retry_on = self._follow_up_target()
            agent_id = (self._resume[0] if self._resume else None) or retry_on or self._agent_id()
            target = (retry_on, self._follow_up_request()) if retry_on else None
            self.emit(
                FuLaunching(
                    at=self.settings.now(),
                    fu_id=self.unit.id,
                    attempt=self.attempt,
                    agent_id=agent_id,
                    base_sha=self.base_sha,
                    retry_budget_from=self.budget_from,
                )
            )
        log_ = self.log.bind(agent_id=agent_id, attempt=self.attempt)
        try:
            # Shielded: a create cancelled in flight may still make an agent we could not stop.
            # An abort shortens the shield to the cancel grace (`hurry`).
            run: Run | None = None
            with anyio.CancelScope(shield=True) as self._shield:
                if self._hurry_s is not None:
                    self._shield.deadline = anyio.current_time() + self._hurry_s
                if target is None:
                    self._unconfirmed = agent_id
                run = await self._launch(agent_id, target)
            self._shield = None
            if run is None:
                reason = "detached" if self._detaching else "aborted"
                log_.warning("agent.create_abandoned", reason=f"{reason} during the create")
                await anyio.lowlevel.checkpoint()  # the abort lands here
                return AttemptFailure(FailureKind.API_TRANSIENT, "create abandoned")
        except CursorError as exc:
            log_.warning("agent.launch_failed", error=exc.message, code=exc.code)
            if not exc.retryable:
                self._unconfirmed = None  # refused: no agent was made
            if isinstance(exc, AgentCapacity):
                return AttemptFailure(
                    FailureKind.CAPACITY,
                    f"the Cursor account is at its active-agent limit: {exc.message}",
                    launch_retry_after_s=exc.retry_after_s,
                )
            if exc.retryable:
                return AttemptFailure(
                    FailureKind.API_TRANSIENT,
                    f"launch failed: {exc.code}: {exc.message}",
                    launch_retry_after_s=exc.retry_after_s or 0.0,
                )
            return AttemptFailure(
                FailureKind.API_FATAL, f"launch failed: {exc.code}: {exc.message}"
            )
        self._unconfirmed = None
        agent_id = run.agent_id  # a failed adoption launches under the attempt's own id
        self._last_agent_id = agent_id
        log_ = log_.bind(agent_id=agent_id)
        log_.info("agent.launched", run_id=run.id)
        self._active = run
        self.emit(
            FuRunning(
                at=self.settings.now(),
                fu_id=self.unit.id,
                agent_id=agent_id,
                run_id=run.id,
                run_created_at=run.created_at,  # an adopted run counts from its real start
            )
        )
        try:
            await anyio.lowlevel.checkpoint()  # a cancel that arrived during the create lands here
            return await self._follow(run, log_)
        except anyio.get_cancelled_exc_class():
            if not self._detaching:  # a detach leaves the run to the next orchd
                await self.care.cancel_run(self._active, log_)
                await self.care.archive(agent_id)  # aborted: its slot back (a restart unarchives)
            raise
        except CursorError as exc:
            log_.warning("run.follow_failed", error=exc.message, code=exc.code)
            await self.care.cancel_run(self._active, log_)
            return AttemptFailure(FailureKind.API_TRANSIENT, f"lost the run: {exc.message}")
        finally:
            self._active = None

    async def _follow(self, run: Run, log_: structlog.stdlib.BoundLogger) -> AttemptFailure | None:
        watcher = RunWatcher(
            self.api,
            run,
            poll_interval_s=self.settings.poll_interval_s,
            use_stream=self.settings.use_stream,
            on_change=self._on_change,
            on_signal=self._on_signal,
            on_note=self._on_note,
        )
        max_s = (
            self.unit.max_duration_minutes * 60.0
            if self.unit.max_duration_minutes
            else self.settings.max_duration_s
        )
        result = await watch_run(
            watcher, max_duration_s=max_s, stale_after_s=self.settings.stale_after_s
        )
        final = result.run
        if result.end is WatchEnd.TIMEOUT:
            # a run that finished just before the deadline is done, not timed out: re-read it
            latest = await self._reread(final)
            if latest is not None and latest.status.is_terminal:
                log_.info("run.finished_at_the_deadline", status=latest.status.value)
                final = latest
            else:
                log_.warning("run.timeout", max_duration_s=max_s)
                self.emit(
                    agent_timeout(
                        self.settings.now(), self.unit.id, self.attempt, max_s / 60, self.batch_id
                    )
                )
                await self.care.cancel_run(self._active, log_)
                return AttemptFailure(FailureKind.TIMEOUT, f"timed out after {max_s / 60:g} min")
        elif result.end is WatchEnd.STALE:
            log_.warning("run.stale", stale_after_s=self.settings.stale_after_s)
            self.emit(FuStale(at=self.settings.now(), fu_id=self.unit.id))
            await self.care.cancel_run(self._active, log_)
            return AttemptFailure(
                FailureKind.STALE,
                f"stale: no progress for {self.settings.stale_after_s / 60:g} min",
            )
        facts = facts_of(final)
        if final.status is RunStatus.FINISHED:
            log_.info("run.finished", duration_ms=final.duration_ms, branch=facts.branch)
            branch = facts.branch or (self.delivered.branch if self.delivered else None)
            sha = await self.queue.branch_sha(branch) if branch else None
            if branch is None or sha is None or (self.delivered is None and sha == self.base_sha):
                log_.warning("run.no_branch", branch=branch, sha=sha)
                what = (
                    "no branch reported"
                    if branch is None
                    else f"branch {branch} is not on the remote"
                    if sha is None
                    else f"branch {branch} has no commit beyond its starting point"
                )
                return AttemptFailure(FailureKind.NO_BRANCH, f"no branch pushed ({what})")
            self.branch = branch
            self.delivered = Delivery(self.unit.id, final.agent_id, branch)
            await self.care.archive(final.agent_id)  # its slot is free until a follow-up needs it
            self.emit(
                FuDelivered(
                    at=self.settings.now(),
                    fu_id=self.unit.id,
                    branch=branch,
                    sha=sha,
                    summary=_short(final.result),
                    pr_url=facts.pr_url,
                )
            )
            return None
        log_.warning("run.failed", status=final.status.value)
        detail = f": {_short(final.result)}" if final.result else ""
        return AttemptFailure(_RUN_FAILURES[final.status], f"run {final.status.value}{detail}")

    async def _reread(self, run: Run) -> Run | None:
        """The run as Cursor has it now (None when it cannot be read: treat as still running)."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.settings.cancel_grace_s):
            try:
                return await self.api.get_run(run.agent_id, run.id)
            except CursorError as exc:
                self.log.info("run.reread_failed", run_id=run.id, error=exc.message)
        return None

    def _on_change(self, run: Run) -> None:
        facts = facts_of(run)
        self.emit(
            FuProgress(
                at=self.settings.now(),
                fu_id=self.unit.id,
                progress=progress_of(facts),
                branch=facts.branch,
                pr_url=facts.pr_url,
                note=run.status.value,
            )
        )

    def _on_signal(self, kind: str) -> None:
        self.emit(FuProgress(at=self.settings.now(), fu_id=self.unit.id, note=kind))

    def _on_note(self, text: str) -> None:
        """Something the person reading the status should know about the run (kept there)."""
        self.emit(FuProgress(at=self.settings.now(), fu_id=self.unit.id, note=text, remark=text))

    async def cancel_for_abort(self) -> None:
        await self.care.cancel_run(self._active, self.log)

    async def _launch(
        self, agent_id: str, follow_up: tuple[str, CreateRunRequest] | None
    ) -> Run | None:
        """Create the agent (or the follow-up run), or adopt the run a restart recorded."""
        if self._requested is not None:
            agent_id_asked, asked_at = self._requested
            self._requested = None
            found = await self.care.run_requested_since(agent_id_asked, asked_at)
            if found is not None:
                self._resume = None  # newer than any run the file recorded
                return found
        if self._resume is not None:
            resume_agent, resume_run = self._resume
            self._resume = None
            try:
                run = await self.api.get_run(resume_agent, resume_run)
            except CursorError as exc:
                self.log.info("run.adopt_failed", run_id=resume_run, error=exc.code)
            else:
                self.log.info("run.adopted", agent_id=resume_agent, run_id=resume_run)
                return run
            agent_id = self._agent_id()
        if follow_up:
            agent_id = follow_up[0]
            if self._emit_durable is not None:  # on disk before the POST: a restart finds it
                await self._emit_durable(
                    FuRunRequested(at=self.settings.now(), fu_id=self.unit.id, agent_id=agent_id)
                )
            return await self.care.follow_up_run(*follow_up)
        agent, run = await self.api.create_agent(self._request(agent_id))
        started = agent.repos[0].starting_ref if agent.repos else None
        if started and started != self.base_sha:
            # adopted (409): the agent started from what an earlier orchd gave it, not from
            # what this one would give it now
            self.log.info("agent.adopted_base", base_sha=started, computed=self.base_sha)
            self.base_sha = started
            self.emit(
                FuLaunching(
                    at=self.settings.now(),
                    fu_id=self.unit.id,
                    attempt=self.attempt,
                    agent_id=agent.id,
                    base_sha=started,
                    retry_budget_from=self.budget_from,
                )
            )
        return run

    def _agent_id(self) -> str:
        """This attempt's id; a status file from before nonces keeps its agents' old ids."""
        legacy = not self.run_nonce
        return agent_id_for(
            self.plan.release_id,
            self.unit.id,
            self.attempt,
            repo_url="" if legacy else self.settings.repo_url,
            nonce=self.run_nonce,
        )

    def hurry(self, grace_s: float) -> None:
        """An abort: a create in flight gets `grace_s` more, not the client's whole retry budget."""
        self._hurry_s = grace_s
        if self._shield is not None:
            self._shield.deadline = min(self._shield.deadline, anyio.current_time() + grace_s)

    def detach(self, grace_s: float) -> None:
        """orchd stops supervising: when this task is cancelled, its run goes on unfollowed (not
        cancelled, not archived) for the next `orchd start` to adopt; a create in flight gets
        `grace_s` more, like an abort's."""
        self._detaching = True
        self.hurry(grace_s)

    @property
    def active_agent(self) -> str | None:
        """The agent whose run this driver follows right now, if any."""
        return self._active.agent_id if self._active is not None else None

    def _follow_up_target(self) -> str | None:
        """With `follow_up_on_same_agent`, a retry continues the last agent (keeps its context)."""
        if self.settings.retry.follow_up_on_same_agent and self._last_agent_id:
            return self._last_agent_id
        return None

    def _follow_up_request(self) -> CreateRunRequest:
        return retry_request(self.unit, self._last_failure)

    def _request(self, agent_id: str) -> CreateAgentRequest:
        return create_request(
            self.plan,
            self.unit,
            self.settings,
            agent_id=agent_id,
            attempt=self.attempt,
            base_sha=self.base_sha,
            contained=self.contained,
        )


def _short(text: str | None, limit: int = 500) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
