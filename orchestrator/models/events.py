"""Status events: the only way engine code changes `agent_status.json`.

FU tasks and the supervisor put these frozen events on a queue; the single writer task applies
them with the pure reducer (`orchestrator.core.reducer.apply`) and writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orchestrator.models.status import BatchStatus, FuStatus, ReleaseStatus


@dataclass(frozen=True)
class FuPlanEntry:
    fu_id: str
    priority: str
    risk_level: str


@dataclass(frozen=True)
class ReleaseStarted:
    at: datetime
    orchestrator_id: str
    pid: int
    batches: tuple[tuple[Decimal, tuple[FuPlanEntry, ...]], ...]


@dataclass(frozen=True)
class FuLaunching:
    at: datetime
    fu_id: str
    attempt: int
    agent_id: str


@dataclass(frozen=True)
class FuRunning:
    """The agent exists and its run is known (created or adopted)."""

    at: datetime
    fu_id: str
    agent_id: str
    run_id: str


@dataclass(frozen=True)
class FuProgress:
    """A real signal of progress: status change, heartbeat, tool call, new branch or PR."""

    at: datetime
    fu_id: str
    progress: float | None = None
    branch: str | None = None
    pr_url: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class FuStale:
    at: datetime
    fu_id: str


@dataclass(frozen=True)
class FuRetrying:
    at: datetime
    fu_id: str
    failed_attempt: int
    error: str
    retry_in_s: float


@dataclass(frozen=True)
class FuFinished:
    """Final state of an FU in this run of orchd: completed, failed, needs_human, cancelled…"""

    at: datetime
    fu_id: str
    status: FuStatus
    error: str | None = None
    summary: str | None = None
    branch: str | None = None
    pr_url: str | None = None


@dataclass(frozen=True)
class BatchChanged:
    at: datetime
    batch_id: Decimal
    status: BatchStatus


@dataclass(frozen=True)
class ErrorRecorded:
    at: datetime
    message: str
    fu_id: str | None = None
    batch_id: Decimal | None = None


@dataclass(frozen=True)
class GateFinished:
    """Integration tests ran after a batch (batch_id None: the full suite after the last)."""

    at: datetime
    batch_id: Decimal | None
    status: str
    tests: tuple[dict[str, object], ...]


@dataclass(frozen=True)
class AwaitingDecision:
    at: datetime
    kind: str
    batch_id: Decimal
    choices: tuple[str, ...]
    reason: str
    deadline: datetime | None = None


@dataclass(frozen=True)
class DecisionTaken:
    at: datetime
    kind: str
    batch_id: Decimal
    action: str
    by: str
    reason: str = ""


@dataclass(frozen=True)
class ReleaseFinished:
    at: datetime
    status: ReleaseStatus
    summary: dict[str, int] = field(default_factory=dict)


StatusEvent = (
    ReleaseStarted
    | FuLaunching
    | FuRunning
    | FuProgress
    | FuStale
    | FuRetrying
    | FuFinished
    | BatchChanged
    | ErrorRecorded
    | GateFinished
    | AwaitingDecision
    | DecisionTaken
    | ReleaseFinished
)
