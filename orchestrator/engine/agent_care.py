"""Looking after one FU's agents on Cursor beyond following their runs: cancelling a run, giving
an account slot back (archive), taking it again for a follow-up (unarchive), stopping an agent an
abort may have left behind, and finding a follow-up run a killed process asked for.

Each of these must finish even while the FU's task is being cancelled (an abort), so they run
shielded and bounded; an API error is logged, never raised: they are cleanup, not the work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
import structlog

from orchestrator.adapters.cursor.errors import AgentArchived, CursorError, NotFound
from orchestrator.adapters.cursor.models import CreateRunRequest, Run
from orchestrator.engine.api import AgentApi
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.slots import SlotPool

ORPHAN_LOOKUP_S = 5.0  # after an abort: how long orchd looks for an agent a create made
CLOCK_SKEW_S = 5.0  # Cursor's clock against ours, when matching a run to its request


class AgentCare:
    """The agent-level calls of one FU; remembers which agents it archived."""

    def __init__(
        self,
        api: AgentApi,
        settings: EngineSettings,
        slots: SlotPool,
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self.api = api
        self.settings = settings
        self.slots = slots
        self.log = log
        self.archived: set[str] = set()  # agents orchd archived (a follow-up unarchives)

    async def cancel_run(self, run: Run | None, log_: structlog.stdlib.BoundLogger) -> None:
        """Cancel the active run, shielded and bounded, so abort never leaves it running."""
        if run is None:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.settings.cancel_grace_s):
            try:
                cancelled = await self.api.cancel_run(run.agent_id, run.id)
                log_.info("run.cancelled", run_id=run.id, was_active=cancelled)
            except CursorError as exc:
                log_.warning("run.cancel_failed", run_id=run.id, error=exc.message)

    async def archive(self, agent_id: str) -> None:
        """A finished agent holds one of the account's active-agent slots until archived."""
        if not self.settings.archive_finished_agents or agent_id in self.archived:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.settings.cancel_grace_s):
            try:
                await self.api.archive_agent(agent_id)
                self.archived.add(agent_id)
                self.slots.capacity_freed()
            except CursorError as exc:
                self.log.info("agent.archive_failed", agent_id=agent_id, error=exc.message)

    async def follow_up_run(self, agent_id: str, request: CreateRunRequest) -> Run:
        """A new run on an agent that may be archived (by this process or an earlier one)."""
        if agent_id in self.archived:  # archived at delivery: take its slot back
            await self.api.unarchive_agent(agent_id)
            self.archived.discard(agent_id)
        try:
            return await self.api.create_run(agent_id, request)
        except AgentArchived:  # archived by an earlier orchd process
            await self.api.unarchive_agent(agent_id)
            return await self.api.create_run(agent_id, request)

    async def wait_for_capacity(self, reason: str, retry_after_s: float | None) -> None:
        """Back-pressure from the account's agent cap: fewer at once, wait for a free slot."""
        limit = self.slots.capacity_refused()
        self.log.warning("agent.capacity_wait", limit=limit, error=reason)
        wait_s = max(retry_after_s or 0.0, self.settings.retry.backoff_initial_s)
        await self.slots.wait_for_capacity(wait_s)

    async def stop_orphan(self, agent_id: str) -> None:
        """An abort cut a create short, and Cursor may have made the agent anyway: look its id
        up and stop its run, so no agent works on with nobody following it; then archive it
        (bounded on its own: a slow lookup must not cost the agent's account slot)."""
        found = False
        with anyio.CancelScope(shield=True), anyio.move_on_after(ORPHAN_LOOKUP_S):
            try:
                agent = await self.api.get_agent(agent_id)
            except NotFound:
                return
            except CursorError as exc:
                self.log.info("agent.orphan_lookup_failed", agent_id=agent_id, error=exc.message)
                return
            found = True
            if agent.latest_run_id:
                try:
                    await self.api.cancel_run(agent_id, agent.latest_run_id)
                    self.log.info("agent.orphan_stopped", agent_id=agent_id)
                except CursorError as exc:
                    self.log.info(
                        "agent.orphan_cancel_failed", agent_id=agent_id, error=exc.message
                    )
        if found:
            await self.archive(agent_id)

    async def run_requested_since(self, agent_id: str, asked_at: datetime) -> Run | None:
        """The follow-up run an earlier process asked for but never recorded (killed between
        the POST and the status write): the agent's newest run created since the intent."""
        try:
            runs = await self.api.list_runs(agent_id, limit=5)
        except CursorError as exc:
            self.log.info("run.requested_lookup_failed", agent_id=agent_id, error=exc.message)
            return None
        since = asked_at - timedelta(seconds=CLOCK_SKEW_S)
        fresh = [r for r in runs.items if r.created_at >= since]
        if not fresh:
            return None
        run = max(fresh, key=lambda r: r.created_at)
        self.log.info("run.adopted_requested", agent_id=agent_id, run_id=run.id)
        return run
