"""The `agent_status.json` file: the seed's structure plus orchd's fields.

Readers see the seed's keys exactly (`release_id`, `orchestrator{...}`, `batches[...]`,
`errors`, `completed_fus`); orchd adds run ids, attempts, branch, PR, completion and errors.
Unknown keys written by the original script or by hand are kept (extra="allow").
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.models.batch_id import BatchId


class FuStatus(StrEnum):
    """An FU's life: … → running → delivered (branch pushed) → merged (into its batch's
    candidate) → completed (landed: the gate passed and the release branch holds it)."""

    PENDING = "pending"
    LAUNCHING = "launching"
    RUNNING = "running"
    STALE = "stale"
    RETRYING = "retrying"
    WAITING_FOR_CAPACITY = "waiting_for_capacity"  # the account's active-agent cap is reached
    DELIVERED = "delivered"
    MERGED = "merged"
    COMPLETED = "completed"
    FAILED = "failed"
    NEEDS_HUMAN = "needs_human"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    BLOCKED = "blocked"

    @property
    def is_active(self) -> bool:
        return self in {
            FuStatus.LAUNCHING,
            FuStatus.RUNNING,
            FuStatus.STALE,
            FuStatus.RETRYING,
            FuStatus.WAITING_FOR_CAPACITY,
        }

    @property
    def is_final(self) -> bool:
        return self in {
            FuStatus.COMPLETED,
            FuStatus.FAILED,
            FuStatus.NEEDS_HUMAN,
            FuStatus.CANCELLED,
            FuStatus.SKIPPED,
            FuStatus.DEFERRED,
            FuStatus.BLOCKED,
        }


class BatchStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    GATING = "gating"
    COMPLETED = "completed"
    FAILED = "failed"
    AWAITING_DECISION = "awaiting_decision"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class ReleaseStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"
    DETACHED = "detached"  # orchd stopped supervising; its agents run on, the next start adopts


class FuEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    fu_id: str
    worker_agent_id: str | None = None
    status: str = FuStatus.PENDING.value
    progress: float = 0.0
    started_at: datetime | None = None
    last_update: datetime | None = None
    # orchd's fields
    run_id: str | None = None
    attempts: int = 0
    priority: str | None = None
    risk_level: str | None = None
    estimate_h: float | None = None  # the schedule's estimate (readers' ETA without the plan)
    branch: str | None = None
    pr_url: str | None = None
    completed_at: datetime | None = None
    duration_s: float | None = None
    error: str | None = None
    summary: str | None = None
    # the release branch
    base_sha: str | None = None  # the commit the agent started from
    delivered_branch: str | None = None
    delivered_sha: str | None = None
    merge_commit: str | None = None  # its --no-ff merge on the release branch (once landed)
    landed_at: datetime | None = None
    conflict_rounds: int = 0
    retry_budget_from: int = 1  # the attempt its retry budget counts from (a human retry resets)
    note: str | None = None  # what a person should know about its run (e.g. no liveness signal)
    run_requested_at: datetime | None = None  # a follow-up run asked for, its id not yet known
    # agent time, for the sequential sum: kept across attempts, follow-ups and restarts
    run_started_at: datetime | None = None  # when the agent run now open started (None: none)
    run_time_s: float = 0.0  # the summed length of every agent run of this FU that ended


class GateTest(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    duration_s: float | None = None
    log: str | None = None


class Gate(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    tests: list[GateTest] = Field(default_factory=list)


class BatchEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch_id: BatchId
    status: str = BatchStatus.PENDING.value
    started_at: datetime | None = None
    completed_at: datetime | None = None
    feature_units: list[FuEntry] = Field(default_factory=list)
    gate: Gate | None = None
    candidate: str | None = None  # the candidate's ref on the remote
    candidate_sha: str | None = None
    landed_sha: str | None = None


class OrchestratorEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    agent_id: str
    started_at: datetime | None = None
    current_batch: BatchId | None = None
    status: str = ReleaseStatus.RUNNING.value
    pid: int | None = None
    completed_at: datetime | None = None
    awaiting: dict[str, Any] | None = None
    # calendar time runs from the first start to the end, across restarts
    first_started_at: datetime | None = None  # started_at is this process's start
    ended_at: datetime | None = None  # when work last brought it to a final state
    max_parallel_fus: int | None = None  # the plan's limit, for readers' ETA without the plan


class ErrorEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: datetime | None = None
    fu_id: str | None = None
    batch_id: BatchId | None = None
    message: str = ""


class AlertEntry(BaseModel):
    """One of the seed's four alerts, raised once per occurrence (`key` names the occurrence:
    `agent_timeout/FU-101/2`, `batch_stalled/1/<since>`, `failure_rate/1`,
    `integration_test_failure/1/<candidate>`)."""

    model_config = ConfigDict(extra="allow")

    key: str
    kind: str  # agent_timeout | batch_stalled | failure_rate | integration_test_failure
    message: str
    at: datetime | None = None
    batch_id: BatchId | None = None
    fu_id: str | None = None


class StatusFile(BaseModel):
    """The whole `agent_status.json`."""

    model_config = ConfigDict(extra="allow")

    release_id: str
    orchestrator: OrchestratorEntry
    batches: list[BatchEntry] = Field(default_factory=list)
    errors: list[ErrorEntry] = Field(default_factory=list)
    alerts: list[AlertEntry] = Field(default_factory=list)
    completed_fus: list[str] = Field(default_factory=list)
    integration_branch: str | None = None
    integration_sha: str | None = None
    base_branch: str | None = None
    run_nonce: str | None = None  # part of every agent id of this release run

    def fu_entry(self, fu_id: str) -> FuEntry | None:
        for batch in self.batches:
            for entry in batch.feature_units:
                if entry.fu_id == fu_id:
                    return entry
        return None
