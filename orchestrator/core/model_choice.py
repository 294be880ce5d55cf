"""Model choice per FU, pure: the manifest's `model`, else a tier from a complexity score.

Like the original script: priority, risk and dependency count make a score that picks the
low / medium / high tier; the tier's model id comes from configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from orchestrator.models.release import FeatureUnit, Priority, RiskLevel


class Tier(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


_PRIORITY_POINTS = {Priority.P0: 3, Priority.P1: 2, Priority.P2: 1, Priority.P3: 0}
_RISK_POINTS = {RiskLevel.HIGH: 3, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 0}


def tier_for(unit: FeatureUnit) -> Tier:
    score = _PRIORITY_POINTS[unit.priority] + _RISK_POINTS[unit.risk_level]
    score += min(len(unit.dependencies), 3)
    if score >= 6:
        return Tier.HIGH
    if score >= 3:
        return Tier.MEDIUM
    return Tier.LOW


def model_for(unit: FeatureUnit, tiers: Mapping[str, str | None]) -> tuple[Tier, str | None]:
    """(tier, model id); None means "let Cursor use the account's default model"."""
    tier = tier_for(unit)
    if unit.model:
        return tier, unit.model
    return tier, tiers.get(tier.value)
