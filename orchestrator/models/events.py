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
    estimate_h: float | None = None  # the schedule's estimate, if it gives one


@dataclass(frozen=True)
class ReleaseStarted:
    at: datetime
    orchestrator_id: str
    pid: int
    batches: tuple[tuple[Decimal, tuple[FuPlanEntry, ...]], ...]
    run_nonce: str | None = None
    max_parallel_fus: int | None = None


@dataclass(frozen=True)
class FuLaunching:
    at: datetime
    fu_id: str
    attempt: int
    agent_id: str
    base_sha: str | None = None
    retry_budget_from: int = 1


@dataclass(frozen=True)
class FuRunRequested:
    """orchd is about to ask for a follow-up run on `agent_id` (written before the POST, so a
    restart looks for a run created since `at` instead of asking twice)."""

    at: datetime
    fu_id: str
    agent_id: str


@dataclass(frozen=True)
class FuRunning:
    """The agent exists and its run is known (created or adopted). `run_created_at`, the
    run's `createdAt`, lets an adopted run count from when it really began."""

    at: datetime
    fu_id: str
    agent_id: str
    run_id: str
    run_created_at: datetime | None = None


@dataclass(frozen=True)
class FuProgress:
    """A real signal of progress (the agent's own activity, a status change, a new branch or
    PR), or with `remark` something a person should know about the run (kept in the file)."""

    at: datetime
    fu_id: str
    progress: float | None = None
    branch: str | None = None
    pr_url: str | None = None
    note: str | None = None
    remark: str | None = None


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
class FuWaitingForCapacity:
    """The account refused a new active agent: the FU waits for a slot (no retry spent)."""

    at: datetime
    fu_id: str
    reason: str


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
class FuDelivered:
    """The run finished and its branch is on the remote."""

    at: datetime
    fu_id: str
    branch: str
    sha: str
    summary: str | None = None
    pr_url: str | None = None


@dataclass(frozen=True)
class FuMerged:
    """Merged (--no-ff) into its batch's candidate; `candidate_sha` is the candidate after."""

    at: datetime
    fu_id: str
    batch_id: Decimal
    merge_commit: str
    candidate: str
    candidate_sha: str


@dataclass(frozen=True)
class FuConflict:
    """Its branch conflicts with the candidate: a follow-up run is asked to merge and resolve."""

    at: datetime
    fu_id: str
    files: tuple[str, ...]
    round: int


@dataclass(frozen=True)
class BatchLanded:
    """The gate passed and the release branch was fast-forwarded to the candidate."""

    at: datetime
    batch_id: Decimal
    sha: str
    merges: tuple[tuple[str, str], ...]  # (fu_id, merge commit) on the release branch


@dataclass(frozen=True)
class CandidateGated:
    """The candidate a batch's gate runs on now (a rebuild makes a new one)."""

    at: datetime
    batch_id: Decimal
    candidate: str
    candidate_sha: str


@dataclass(frozen=True)
class CandidateDropped:
    """The candidate is gone (skip, or rebuilt): its FUs are no longer merged anywhere."""

    at: datetime
    batch_id: Decimal


@dataclass(frozen=True)
class IntegrationBranch:
    """Where the release branch is: set at start and whenever it moves."""

    at: datetime
    branch: str
    sha: str
    base_branch: str | None = None


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
class AlertRaised:
    """One of the seed's alerts; the reducer keeps the first event of each `key` only."""

    at: datetime
    key: str
    kind: str
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
    | FuRunRequested
    | FuRunning
    | FuProgress
    | FuStale
    | FuRetrying
    | FuWaitingForCapacity
    | FuFinished
    | FuDelivered
    | FuMerged
    | FuConflict
    | BatchLanded
    | CandidateGated
    | CandidateDropped
    | IntegrationBranch
    | BatchChanged
    | ErrorRecorded
    | AlertRaised
    | GateFinished
    | AwaitingDecision
    | DecisionTaken
    | ReleaseFinished
)
