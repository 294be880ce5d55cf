"""Landing a batch: gate its candidate in a worktree, move the release branch, say so.

The merge queue owns git; this module ties it to the batch gate and to status events, so the
supervisor reads as "run the FUs, land the batch, ask a human if that failed".
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import structlog

from orchestrator.core.alerts import integration_test_failure
from orchestrator.core.prompt import fix_prompt
from orchestrator.engine.batch_gate import run_batch_gate
from orchestrator.engine.merge_queue import (
    GateFailed,
    GateFn,
    GateVerdict,
    Landed,
    LandResult,
    MergeQueue,
)
from orchestrator.engine.settings import EngineSettings
from orchestrator.models.events import (
    BatchLanded,
    CandidateGated,
    IntegrationBranch,
    StatusEvent,
)
from orchestrator.models.release import ReleasePlan

_TAIL_LINES = 40

log = structlog.get_logger("orchd.landing")


@dataclass(frozen=True)
class GateRecord:
    """What the last gate of a batch left behind, for `fix` follow-ups."""

    summary: str
    log_path: Path | None


class Lander:
    def __init__(
        self,
        plan: ReleasePlan,
        settings: EngineSettings,
        queue: MergeQueue,
        emit: Callable[[StatusEvent], None],
        log_dir: Path,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.queue = queue
        self.emit = emit
        self.log_dir = log_dir
        self.last_gate: dict[Decimal | None, GateRecord] = {}

    def _gate_for(self, batch_id: Decimal | None, branches: list[str]) -> GateFn:
        async def gate(sha: str, base: str, worktree: Path) -> GateVerdict:
            ref = self.queue.candidate_ref(batch_id) if batch_id is not None else None
            if batch_id is not None and ref is not None:
                self.emit(CandidateGated(self.settings.now(), batch_id, ref, sha))
            outcome = await run_batch_gate(
                self.plan,
                self.settings.gate,
                batch_id=batch_id,
                branches=branches,
                log_dir=self.log_dir,
                at=self.settings.now(),
                workdir=worktree,
                extra_env={"ORCHD_GATE_SHA": sha, "ORCHD_BASE_SHA": base},
            )
            self.emit(outcome.event)
            if not outcome.passed:
                self.emit(
                    integration_test_failure(
                        self.settings.now(), batch_id, ref, outcome.summary, full=batch_id is None
                    )
                )
            self.last_gate[batch_id] = GateRecord(outcome.summary, outcome.log_path)
            return GateVerdict(outcome.passed, outcome.summary)

        return gate

    async def land(self, batch_id: Decimal, branches: list[str]) -> LandResult:
        result = await self.queue.land(batch_id, self._gate_for(batch_id, branches))
        if isinstance(result, Landed):
            now = self.settings.now()
            self.emit(BatchLanded(at=now, batch_id=batch_id, sha=result.sha, merges=result.merges))
            self.emit(
                IntegrationBranch(
                    at=now, branch=self.queue.branch, sha=result.sha, base_branch=None
                )
            )
        return result

    async def full_suite(self) -> GateFailed | None:
        """Every IT test in a worktree of the final release branch head."""
        verdict = await self.queue.gate_head(self._gate_for(None, []))
        return None if verdict.passed else GateFailed(verdict.summary, self.queue.head)

    async def log_tail(self, batch_id: Decimal) -> str:
        record = self.last_gate.get(batch_id)
        if record is None or record.log_path is None:
            return "(no log)"
        try:
            text = await anyio.Path(record.log_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(log not readable)"
        return "\n".join(text.splitlines()[-_TAIL_LINES:])

    async def send_fixes(
        self,
        batch_id: Decimal,
        targets: Sequence[tuple[str, str]],
        failure: str,
        follow_up: Callable[[str, str], Coroutine[Any, Any, None]],
    ) -> None:
        """`fix`: every (FU, branch) gets a follow-up with the failing log tail, in parallel."""
        tail = await self.log_tail(batch_id)
        sha = self.queue.candidate_sha(batch_id) or self.queue.head
        async with anyio.create_task_group() as group:
            for fu_id, branch in targets:
                text = fix_prompt(
                    fu_id=fu_id,
                    branch=branch,
                    batch_id=format(batch_id, "f"),
                    candidate_sha=sha,
                    failure=failure,
                    log_tail=tail,
                )
                group.start_soon(follow_up, fu_id, text)
