"""The release plan orchd runs: feature units, batches, limits, tests, checkpoints."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.models.batch_id import BatchId
from orchestrator.models.strategy import StrategyType as StrategyType  # re-exported: its old home


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def rank(self) -> int:
        return int(self.value[1])


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Source(BaseModel):
    """Where a value came from, so errors and warnings can name file:line:col."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int | None = None
    col: int | None = None

    def render(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.col is not None:
                text += f":{self.col}"
        return text


class FeatureUnit(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    priority: Priority = Priority.P1
    dependencies: tuple[str, ...] = ()
    risk_level: RiskLevel = RiskLevel.MEDIUM
    notes: str = ""
    description: str = ""
    max_duration_minutes: float | None = None
    model: str | None = None
    spec_path: str | None = None
    estimate_hours: float | None = None
    """Expected agent hours, from the schedule or the FU's entry (`orchestrator.core.estimates`)."""
    estimate_source: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    source: Source | None = None


class Batch(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_id: BatchId
    feature_units: tuple[str, ...]
    dependencies: tuple[str, ...] = ()
    title: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)
    source: Source | None = None


class RetryPolicy(BaseModel):
    """Retries per priority (seed: P0 3, P1 1, P2/P3 none) and backoff between attempts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: dict[Priority, int] = Field(
        default_factory=lambda: {Priority.P0: 3, Priority.P1: 1, Priority.P2: 0, Priority.P3: 0}
    )
    backoff_initial_s: float = 30.0
    backoff_max_s: float = 600.0
    backoff_multiplier: float = 2.0
    follow_up_on_same_agent: bool = False

    def retries_for(self, priority: Priority) -> int:
        return self.max_retries.get(priority, 0)


def _no_model_tiers() -> dict[str, str | None]:
    """No model id per tier: Cursor uses the account's default model unless configured."""
    return {"low": None, "medium": None, "high": None}


class Limits(BaseModel):
    """Execution strategy: limits plus orchd's own tunables (documented in README/config)."""

    model_config = ConfigDict(frozen=True)

    type: StrategyType = StrategyType.MULTI_AGENT
    max_parallel_fus: int = 3
    max_high_risk_in_parallel: int = 1
    status_file: str | None = None
    poll_interval_s: float = 60.0
    stale_after_minutes: float = 15.0
    max_duration_minutes: float = 120.0
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    auto_create_pr: bool = True
    use_stream: bool = True
    model_tiers: dict[str, str | None] = Field(default_factory=_no_model_tiers)
    prompt_template: str | None = None
    archive_finished_agents: bool = True
    cancel_grace_s: float = 20.0
    # batch gate and human decisions (issue 5); the CLI overrides each of them
    gate_command_template: str | None = "npm run test:integration -- {file}"
    gate_command: str | None = None
    gate_overrides: dict[str, str] = Field(default_factory=dict)
    gate_timeout_s: float = 300.0
    gate_shell: bool = False
    strict_gate: bool = False
    on_batch_failure: str | None = None
    on_checkpoint: str | None = None
    decision_deadline_minutes: float = 0.0
    # the seed's alerts (issue 11): a batch with no progress this long; a batch's share of FUs
    # that failed at least once above this
    stalled_after_minutes: float = 30.0
    alert_failure_rate: float = 0.2
    # the release branch (issue 8): where landed FUs are merged, and how conflicts are handled
    integration_branch: str | None = None  # default release/<release_id>
    max_conflict_rounds: int = 2

    @property
    def effective_parallel(self) -> int:
        """Sequential means one FU at a time whatever the limit says."""
        return 1 if self.type is StrategyType.SEQUENTIAL else self.max_parallel_fus


class IntegrationTest(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str = ""
    batches: tuple[BatchId, ...] = ()
    command: str | None = None
    source: Source | None = None


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    after_batch: BatchId
    source: Source | None = None
    key: str = ""
    """The manifest key that set it (`checkpoints[0].trigger`); empty for the mapping form."""

    @property
    def label(self) -> str:
        """How messages name it: the key as written in the manifest."""
        return self.key or f"checkpoints.checkpoint_{self.name}_after_batch"


class Warning_(BaseModel):
    """A validation warning: allowed by default, an error under --strict."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    source: Source | None = None

    def render(self) -> str:
        prefix = f"{self.source.render()}: " if self.source else ""
        return f"{prefix}{self.message}"


class ReleasePlan(BaseModel):
    """Everything orchd needs to run a release, read from its files and validated."""

    model_config = ConfigDict(frozen=True)

    release_id: str
    name: str = ""
    status: str = ""
    release_dir: str
    repository: str | None = None
    """The checkout the release lives in (specs, prompt template and status file are relative to
    it): `--repo-root`, or the repository around `--release-dir`; None when there is none."""
    limits: Limits
    feature_units: tuple[FeatureUnit, ...]
    batches: tuple[Batch, ...]
    deferred: tuple[str, ...] = ()
    integration_tests: tuple[IntegrationTest, ...] = ()
    checkpoints: tuple[Checkpoint, ...] = ()
    warnings: tuple[Warning_, ...] = ()
    schedule_source: str = "manifest"
    estimate_unit: str = "h"
    """How the schedule writes its estimates: "d" (8-hour days) or "h"; for display only."""
    notes: tuple[str, ...] = ()
    """Information, not problems (e.g. where the release dir was found); never errors."""

    def fu(self, fu_id: str) -> FeatureUnit:
        return _indexed(self.feature_units, _units_by_id)[fu_id]

    def batch_of(self, fu_id: str) -> Decimal | None:
        """The batch an FU is scheduled in (its first, if it is listed twice)."""
        return _indexed(self.batches, _batch_ids_by_fu).get(fu_id)

    def tests_for(self, batch_id: Decimal) -> tuple[IntegrationTest, ...]:
        return tuple(t for t in self.integration_tests if batch_id in t.batches)


# Lookups by id, O(1) per FU at 2,000 FUs, built on first use. Kept beside the (frozen) plan, not
# in it, so plans still compare by their fields; keyed by the tuple's identity (and holding the
# tuple, so the id is not reused while the entry lives), the most recent few.
_T = TypeVar("_T")
_INDEXES: OrderedDict[tuple[int, object], tuple[tuple[Any, ...], Any]] = OrderedDict()
_MAX_INDEXES = 32


def _indexed(items: tuple[Any, ...], build: Callable[[tuple[Any, ...]], _T]) -> _T:
    key = (id(items), build)
    found = _INDEXES.get(key)
    if found is not None and found[0] is items:
        _INDEXES.move_to_end(key)
        index: _T = found[1]
        return index
    index = build(items)
    _INDEXES[key] = (items, index)
    while len(_INDEXES) > _MAX_INDEXES:
        _INDEXES.popitem(last=False)
    return index


def _units_by_id(units: tuple[FeatureUnit, ...]) -> dict[str, FeatureUnit]:
    found: dict[str, FeatureUnit] = {}
    for unit in units:
        found.setdefault(unit.id, unit)
    return found


def _batch_ids_by_fu(batches: tuple[Batch, ...]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for batch in batches:
        for member in batch.feature_units:
            found.setdefault(member, batch.batch_id)
    return found
