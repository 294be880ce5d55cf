"""Plan checks on shape: duplicates, FU placement in batches, deferred listings, limits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

from orchestrator.core.findings import Finding
from orchestrator.core.plan_index import PlanIndex
from orchestrator.models.batch_id import format_batch_id
from orchestrator.models.release import Batch, FeatureUnit, Limits, ReleasePlan, Source


def structure_findings(plan: ReleasePlan, ix: PlanIndex, where: Source | None) -> list[Finding]:
    """Empty plans, FUs or batches defined twice, unknown or deferred FUs in the schedule."""
    found: list[Finding] = []
    if not plan.feature_units:
        found.append(
            Finding(
                "error",
                "no_feature_units",
                "feature_units",
                "no feature units: there is nothing for orchd to run",
                "list the release's FUs under `feature_units:` (a workstream-only release "
                "cannot be orchestrated)",
                where,
            )
        )
    first_seen: dict[str, FeatureUnit] = {}
    for unit in plan.feature_units:
        if unit.id in first_seen:
            line = first_seen[unit.id].source
            at = f" (first at line {line.line})" if line and line.line else ""
            found.append(
                Finding(
                    "error",
                    "duplicate_fu",
                    f"feature_units[{unit.id}]",
                    f"{unit.id} is defined twice{at}",
                    "keep one entry per FU id",
                    unit.source,
                )
            )
        else:
            first_seen[unit.id] = unit
        if unit.id in ix.deferred:
            found.append(
                Finding(
                    "warning",
                    "deferred_listed",
                    f"feature_units[{unit.id}]",
                    f"{unit.id} is also listed in a deferred section: treated as deferred, "
                    "will not run",
                    "remove it from one of the two lists",
                    unit.source,
                )
            )
    seen_batches: dict[Decimal, Batch] = {}
    placed: dict[str, Batch] = {}
    for batch in plan.batches:
        name = format_batch_id(batch.batch_id)
        if batch.batch_id in seen_batches:
            found.append(
                Finding(
                    "error",
                    "duplicate_batch",
                    f"batches[{name}].batch_id",
                    f"batch {name} appears twice",
                    "give every batch its own batch_id",
                    batch.source,
                )
            )
        seen_batches.setdefault(batch.batch_id, batch)
        for fu_id in batch.feature_units:
            if fu_id in placed:
                other = format_batch_id(placed[fu_id].batch_id)
                found.append(
                    Finding(
                        "error",
                        "fu_in_two_batches",
                        f"batches[{name}].feature_units",
                        f"{fu_id} is already in batch {other}",
                        "list each FU in exactly one batch",
                        batch.source,
                    )
                )
                continue
            placed[fu_id] = batch
            if fu_id in ix.deferred:
                found.append(
                    Finding(
                        "warning",
                        "deferred_scheduled",
                        f"batches[{name}].feature_units",
                        f"{fu_id} is deferred: skipped",
                        "remove it from the schedule",
                        batch.source,
                    )
                )
            elif fu_id not in ix.units:
                found.append(
                    Finding(
                        "error",
                        "unknown_scheduled_fu",
                        f"batches[{name}].feature_units",
                        f"{fu_id} is scheduled but is neither in feature_units nor deferred",
                        f"add {fu_id} to feature_units or remove it from batch {name}",
                        batch.source,
                    )
                )
    for unit in first_seen.values():
        if unit.id not in placed and unit.id not in ix.deferred and plan.batches:
            found.append(
                Finding(
                    "warning",
                    "unscheduled_fu",
                    f"feature_units[{unit.id}]",
                    f"{unit.id} is in no batch: will not run",
                    "add it to a batch of execution_schedule",
                    unit.source,
                )
            )
    return found


_AT_LEAST_ONE = ("max_parallel_fus", "max_high_risk_in_parallel")
_POSITIVE = (
    "poll_interval_s",
    "stale_after_minutes",
    "max_duration_minutes",
    "gate_timeout_s",
    "cancel_grace_s",
    "stalled_after_minutes",
)
_NOT_NEGATIVE = {
    "decision_deadline_minutes": "use 0 for no deadline",
    "max_conflict_rounds": "use 0 to hand the first conflict to a human",
}
_POSITIVE_RETRY = ("backoff_initial_s", "backoff_max_s")


def _number(value: float) -> str:
    """`-1.0` → `-1`, `0.5` → `0.5`: a value as the user wrote it."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def limit_findings(
    limits: Limits,
    sources: Mapping[str, Source],
    where: Source | None,
    labels: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Limits no run could honour: counts below 1, negative or zero durations, odd backoff.

    Each names the key as the manifest wrote it (`execution_limits.…` too) and its line.
    """
    found: list[Finding] = []
    names = labels or {}

    def bad(key: str, problem: str, fix: str) -> None:
        found.append(
            Finding(
                "error", "bad_limit", names.get(key, key), problem, fix, sources.get(key, where)
            )
        )

    def positive(key: str, value: float, fix: str = "use a positive number") -> None:
        if not math.isfinite(value):
            bad(key, f"must be a finite number, got {_number(value)}", fix)
        elif not value > 0:
            bad(key, f"must be above 0, got {_number(value)}", fix)

    for name in _AT_LEAST_ONE:
        value = getattr(limits, name)
        if value < 1:
            bad(f"execution_strategy.{name}", f"must be at least 1, got {value}", "use 1 or more")
    for name in _POSITIVE:
        positive(f"execution_strategy.{name}", getattr(limits, name))
    for name, fix in _NOT_NEGATIVE.items():
        value = getattr(limits, name)
        if not math.isfinite(value):
            bad(f"execution_strategy.{name}", f"must be a finite number, got {_number(value)}", fix)
        elif value < 0:
            bad(f"execution_strategy.{name}", f"must be 0 or more, got {_number(value)}", fix)
    retry = limits.retry
    for priority, count in retry.max_retries.items():
        if count < 0:
            bad(
                f"execution_strategy.retry.max_retries.{priority.value}",
                f"must be 0 or more, got {count}",
                "use 0 for no retry",
            )
    for name in _POSITIVE_RETRY:
        positive(f"execution_strategy.retry.{name}", getattr(retry, name), "use seconds, e.g. 30")
    if math.isfinite(retry.backoff_initial_s) and 0 < retry.backoff_max_s < retry.backoff_initial_s:
        bad(
            "execution_strategy.retry.backoff_max_s",
            f"must be at least backoff_initial_s ({_number(retry.backoff_initial_s)})",
            "raise backoff_max_s",
        )
    if not (math.isfinite(retry.backoff_multiplier) and retry.backoff_multiplier >= 1):
        bad(
            "execution_strategy.retry.backoff_multiplier",
            f"must be at least 1, got {_number(retry.backoff_multiplier)}",
            "use 2 for doubling",
        )
    found.sort(key=lambda f: (f.source.line or 0) if f.source else 0)  # in file order
    return found


def unit_limit_findings(plan: ReleasePlan) -> list[Finding]:
    """A per-FU `max_duration_minutes` that no run could meet."""
    found: list[Finding] = []
    for unit in plan.feature_units:
        minutes = unit.max_duration_minutes
        if minutes is not None and not (math.isfinite(minutes) and minutes > 0):
            found.append(
                Finding(
                    "error",
                    "bad_limit",
                    f"feature_units[{unit.id}].max_duration_minutes",
                    f"must be a positive number, got {_number(minutes)}",
                    "use a positive number of minutes",
                    unit.source,
                )
            )
    return found
