"""What `orchd dashboard` shows of a release, as `GET /api/releases[/{id}]` returns it.

Computed from a status file alone (`core.release_view`), so the page, the JSON API and the
Prometheus series agree. `orchd schema dashboard` prints the JSON Schema of these models.
Batch ids are strings as people write them (`0.5`, `3`); times are ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class Progress(_View):
    landed: int = Field(description="FUs whose status is `completed` (on the release branch)")
    total: int
    percent: float = Field(description="landed / total × 100 (0 when there are no FUs)")
    elapsed_s: float | None = Field(description="release start to its end, or to now")
    eta_s: float | None = Field(
        description="estimated seconds until the agents' work is done: outstanding FUs × the "
        "mean duration of finished ones ÷ parallelism; null when nothing finished yet"
    )


class Metrics(_View):
    """The seed's metrics ("Monitoring and Observability")."""

    fus_by_status: dict[str, int]
    active_agents: int = Field(description="FUs launching, running or stale: an agent at work")
    max_parallel_fus: int | None = Field(description="from the manifest; null when unknown")
    utilization: float | None = Field(description="active_agents / max_parallel_fus")
    failures: int = Field(description="FUs failed or needing a human")
    failure_rate: float = Field(description="failures / total FUs")
    retries: int = Field(description="attempts beyond each FU's first")
    retry_rate: float = Field(description="retries / total FUs")
    mean_fu_duration_s: float | None = Field(
        description="mean agent time to delivery of FUs whose work is done"
    )
    calendar_s: float | None = Field(description="release start to its end, or to now")
    sequential_s: float = Field(
        description="what one FU after another would have taken: finished FUs' durations plus "
        "the time running ones have spent so far"
    )
    time_saved_s: float | None = Field(description="sequential_s - calendar_s")


class FuView(_View):
    fu_id: str
    batch_id: str
    status: str
    attempts: int
    priority: str | None = None
    progress: float
    agent_id: str | None = None
    agent_url: str | None = Field(None, description="the agent in Cursor Web (Cursor ids only)")
    run_id: str | None = None
    branch: str | None = None
    pr_url: str | None = None
    started_at: datetime | None = Field(None, description="launch of the latest attempt")
    ended_at: datetime | None = None
    duration_s: float | None = None
    merge_commit: str | None = None
    error: str | None = None
    note: str | None = None


class TimelineBar(_View):
    """One FU's bar: its latest attempt, from launch to end (or to now while open)."""

    fu_id: str
    batch_id: str
    status: str
    attempts: int
    start_s: float = Field(description="seconds after the timeline's origin")
    end_s: float
    open: bool = Field(description="still going: the bar ends at now")
    failures_s: list[float] = Field(
        default_factory=list, description="earlier attempts' failures recorded in errors[]"
    )


class TimelineGroup(_View):
    batch_id: str
    status: str
    bars: list[TimelineBar]
    waiting: list[str] = Field(description="FUs not launched yet (no bar)")


class Timeline(_View):
    origin: datetime | None = Field(description="release start; null when nothing launched")
    span_s: float
    now_s: float | None = Field(description="now on the time axis, while the release runs")
    groups: list[TimelineGroup]


class ActiveAgent(_View):
    fu_id: str
    status: str
    agent_id: str | None
    agent_url: str | None
    branch: str | None
    pr_url: str | None
    started_at: datetime | None
    running_s: float | None


class GateTestView(_View):
    id: str
    status: str
    duration_s: float | None = None
    log: str | None = None


class GateView(_View):
    status: str
    tests: list[GateTestView]


class BatchView(_View):
    batch_id: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    fus: int
    landed: int
    mean_fu_duration_s: float | None
    seconds_since_progress: float | None = Field(
        description="now - the batch's latest FU update, while the batch is in progress"
    )
    gate: GateView | None
    candidate: str | None
    candidate_sha: str | None
    landed_sha: str | None


class ReleaseBranch(_View):
    name: str | None
    head: str | None
    base_branch: str | None


class ErrorView(_View):
    at: datetime | None
    fu_id: str | None
    batch_id: str | None
    message: str


class Question(_View):
    """What the daemon waits for (`orchestrator.awaiting`) and the commands that answer it."""

    kind: str
    batch_id: str | None
    choices: list[str]
    since: str | None
    deadline: str | None
    reason: str | None
    commands: list[str] = Field(description="one `orchd decide …` per choice")


class Alert(_View):
    """An entry of the status file's `alerts[]` (read tolerantly: any shape is shown)."""

    kind: str
    message: str
    at: str | None = None
    batch_id: str | None = None
    fu_id: str | None = None


class ReleaseView(_View):
    release_id: str
    location: str = Field(description="in_progress, releases or archived/<folder>")
    status_file: str | None = Field(description="the file read; null when there is none yet")
    file_written_at: datetime | None = None
    read_error: str | None = Field(None, description="why the status file could not be read")
    notes: list[str] = Field(default_factory=list, description="what is odd in the file")
    status: str = Field(description="the release's status, or `not_started` with no file")
    started_at: datetime | None = None
    completed_at: datetime | None = None
    current_batch: str | None = None
    progress: Progress
    metrics: Metrics
    release_branch: ReleaseBranch
    awaiting: Question | None = None
    alerts: list[Alert] = Field(default_factory=list)
    active_agents: list[ActiveAgent] = Field(default_factory=list)
    fus: list[FuView] = Field(default_factory=list)
    batches: list[BatchView] = Field(default_factory=list)
    full_suite: GateView | None = None
    timeline: Timeline
    errors: list[ErrorView] = Field(default_factory=list, description="newest first")


class ReleaseList(_View):
    """`GET /api/releases`: every release under the repo, in_progress first."""

    repo_root: str
    generated_at: datetime
    releases: list[ReleaseView]
