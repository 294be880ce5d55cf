"""Scheduling decisions, pure: what an FU waits for, and who gets a free slot.

orchd's rule: an FU may start when its own dependencies and its batch's `dependencies` are
complete (dependencies outside the release are assumed complete); a batch does not wait for
unrelated earlier batches. `strict_batches` adds the seed's literal rule: a batch starts only when
every earlier batch is complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orchestrator.models.release import ReleasePlan, RiskLevel


@dataclass(frozen=True)
class Candidate:
    """An FU waiting for (or holding) a run slot."""

    fu_id: str
    priority_rank: int
    batch_order: int
    position: int
    high_risk: bool

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.priority_rank, self.batch_order, self.position)


def candidates(plan: ReleasePlan) -> dict[str, Candidate]:
    """One candidate per scheduled FU, ordered P0 first, then schedule order."""
    result: dict[str, Candidate] = {}
    position = 0
    for batch_order, batch in enumerate(plan.batches):
        for fu_id in batch.feature_units:
            if fu_id in plan.deferred or fu_id in result:
                continue
            unit = plan.fu(fu_id)
            result[fu_id] = Candidate(
                fu_id=fu_id,
                priority_rank=unit.priority.rank,
                batch_order=batch_order,
                position=position,
                high_risk=unit.risk_level is RiskLevel.HIGH,
            )
            position += 1
    return result


def prerequisites(plan: ReleasePlan, fu_id: str) -> tuple[str, ...]:
    """In-release FUs that must be complete before `fu_id` starts (own + batch dependencies)."""
    in_release = {unit.id for unit in plan.feature_units}
    batch = next((b for b in plan.batches if fu_id in b.feature_units), None)
    wanted: list[str] = list(plan.fu(fu_id).dependencies)
    if batch is not None:
        wanted.extend(batch.dependencies)
    seen: set[str] = set()
    result: list[str] = []
    for dep in wanted:
        if dep in in_release and dep != fu_id and dep not in seen:
            seen.add(dep)
            result.append(dep)
    return tuple(result)


def external_dependencies(plan: ReleasePlan, fu_id: str) -> tuple[str, ...]:
    """Dependencies not in this release: assumed complete (the loader warns about them)."""
    in_release = {unit.id for unit in plan.feature_units}
    batch = next((b for b in plan.batches if fu_id in b.feature_units), None)
    wanted = list(plan.fu(fu_id).dependencies) + (list(batch.dependencies) if batch else [])
    return tuple(dict.fromkeys(d for d in wanted if d not in in_release))


def choose_grants(
    waiting: Iterable[Candidate],
    running: Sequence[Candidate],
    *,
    max_parallel: int,
    max_high_risk: int,
) -> list[str]:
    """FUs to start now: best priority first, never above either limit.

    A high-risk FU that cannot start because the high-risk limit is reached does not block a
    lower-priority low-risk FU behind it (no head-of-line blocking).
    """
    free = max_parallel - len(running)
    high = sum(1 for c in running if c.high_risk)
    grants: list[str] = []
    for cand in sorted(waiting, key=lambda c: c.sort_key):
        if free <= 0:
            break
        if cand.high_risk:
            if high >= max_high_risk:
                continue
            high += 1
        grants.append(cand.fu_id)
        free -= 1
    return grants
