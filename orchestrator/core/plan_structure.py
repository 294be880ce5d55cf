"""Plan checks on shape: duplicates, FU placement in batches, deferred listings, limits."""

from __future__ import annotations

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


def limit_findings(
    limits: Limits, sources: Mapping[str, Source], where: Source | None
) -> list[Finding]:
    """Limits no run could honour (counts below 1, non-positive times, odd backoff)."""
    found: list[Finding] = []

    def bad(name: str, problem: str, fix: str) -> None:
        found.append(Finding("error", "bad_limit", name, problem, fix, sources.get(name, where)))

    for name in ("max_parallel_fus", "max_high_risk_in_parallel"):
        value = getattr(limits, name)
        if value < 1:
            bad(f"execution_strategy.{name}", f"must be at least 1, got {value}", "use 1 or more")
    for name in ("poll_interval_s", "stale_after_minutes", "max_duration_minutes"):
        value = getattr(limits, name)
        if not value > 0:
            bad(
                f"execution_strategy.{name}",
                f"must be above 0, got {value}",
                "use a positive number",
            )
    retry = limits.retry
    for priority, count in retry.max_retries.items():
        if count < 0:
            bad(
                f"execution_strategy.retry.max_retries.{priority.value}",
                f"must be 0 or more, got {count}",
                "use 0 for no retry",
            )
    if not retry.backoff_initial_s >= 0:
        bad("execution_strategy.retry.backoff_initial_s", "must be 0 or more", "use seconds >= 0")
    if not retry.backoff_max_s >= retry.backoff_initial_s:
        bad(
            "execution_strategy.retry.backoff_max_s",
            f"must be at least backoff_initial_s ({retry.backoff_initial_s})",
            "raise backoff_max_s",
        )
    if not retry.backoff_multiplier >= 1:
        bad(
            "execution_strategy.retry.backoff_multiplier",
            f"must be at least 1, got {retry.backoff_multiplier}",
            "use 2 for doubling",
        )
    return found


def unit_limit_findings(plan: ReleasePlan) -> list[Finding]:
    """A per-FU `max_duration_minutes` that no run could meet."""
    found: list[Finding] = []
    for unit in plan.feature_units:
        if unit.max_duration_minutes is not None and not unit.max_duration_minutes > 0:
            found.append(
                Finding(
                    "error",
                    "bad_limit",
                    f"feature_units[{unit.id}].max_duration_minutes",
                    f"must be above 0, got {unit.max_duration_minutes}",
                    "use a positive number of minutes",
                    unit.source,
                )
            )
    return found
