"""Small release plans built in code, for engine and core tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from orchestrator.models.release import (
    Batch,
    FeatureUnit,
    Limits,
    Priority,
    ReleasePlan,
    RiskLevel,
)


def fu(
    fu_id: str,
    *deps: str,
    priority: str = "P0",
    risk: str = "medium",
    max_minutes: float | None = None,
) -> FeatureUnit:
    return FeatureUnit(
        id=fu_id,
        name=f"title of {fu_id}",
        priority=Priority(priority),
        dependencies=deps,
        risk_level=RiskLevel(risk),
        max_duration_minutes=max_minutes,
    )


def plan(
    units: Iterable[FeatureUnit],
    batches: Sequence[tuple[str, Sequence[str]] | tuple[str, Sequence[str], Sequence[str]]],
    *,
    limits: Limits | None = None,
    deferred: Sequence[str] = (),
    release_id: str = "v9.9.9",
) -> ReleasePlan:
    built = []
    for spec in batches:
        deps: Sequence[str] = spec[2] if len(spec) == 3 else ()
        built.append(
            Batch(batch_id=Decimal(spec[0]), feature_units=tuple(spec[1]), dependencies=tuple(deps))
        )
    return ReleasePlan(
        release_id=release_id,
        name="Test release",
        release_dir="/nonexistent",
        limits=limits or Limits(),
        feature_units=tuple(units),
        batches=tuple(built),
        deferred=tuple(deferred),
    )
