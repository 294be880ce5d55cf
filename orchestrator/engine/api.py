"""The part of the Cursor client the engine uses (a Protocol, so tests may pass a double)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from orchestrator.adapters.cursor.models import (
    Agent,
    CreateAgentRequest,
    CreateRunRequest,
    Run,
    RunList,
    StreamEvent,
)


class AgentApi(Protocol):
    async def create_agent(
        self, req: CreateAgentRequest, *, adopt_existing: bool = True
    ) -> tuple[Agent, Run]: ...

    async def create_run(self, agent_id: str, req: CreateRunRequest) -> Run: ...

    async def get_agent(self, agent_id: str) -> Agent: ...

    async def get_run(self, agent_id: str, run_id: str) -> Run: ...

    async def list_runs(
        self, agent_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> RunList: ...

    async def cancel_run(self, agent_id: str, run_id: str) -> bool: ...

    async def archive_agent(self, agent_id: str) -> None: ...

    async def unarchive_agent(self, agent_id: str) -> None: ...

    def stream_run(
        self, agent_id: str, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[StreamEvent]: ...
