"""The lookups the plan checks share: units by id, the batch of each FU, deferred ids."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orchestrator.models.release import Batch, FeatureUnit, ReleasePlan


@dataclass(frozen=True)
class PlanIndex:
    """Built once per `check_plan`, so each check reads the plan the same way."""

    units: dict[str, FeatureUnit]
    batch_of: dict[str, Batch]
    deferred: frozenset[str]
    order: dict[Decimal, int]


def index_plan(plan: ReleasePlan) -> PlanIndex:
    """First occurrence wins; `plan_structure` reports the duplicates."""
    units: dict[str, FeatureUnit] = {}
    for unit in plan.feature_units:
        units.setdefault(unit.id, unit)
    batch_of: dict[str, Batch] = {}
    for batch in plan.batches:
        for fu_id in batch.feature_units:
            batch_of.setdefault(fu_id, batch)
    order = {b.batch_id: i for i, b in enumerate(sorted(plan.batches, key=lambda b: b.batch_id))}
    return PlanIndex(units, batch_of, frozenset(plan.deferred), order)
