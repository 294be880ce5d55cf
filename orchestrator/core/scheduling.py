"""Scheduling decisions, pure: what an FU waits for, and who gets a free slot.

orchd's rule: an FU may start when its own dependencies and its batch's `dependencies` are
complete (dependencies outside the release are assumed complete); a batch does not wait for
unrelated earlier batches. `strict_batches` adds the seed's literal rule: a batch starts only when
every earlier batch is complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    tail_h: float = 0.0
    """Expected hours from this FU's start to the end of the longest chain of FUs waiting on it
    (its own estimate included): serving the longest tail first shortens the release."""

    @property
    def sort_key(self) -> tuple[int, float, int, int]:
        """P0 first, then the longest remaining critical path, then schedule order."""
        return (self.priority_rank, -self.tail_h, self.batch_order, self.position)


def tails_h(plan: ReleasePlan, durations_h: Mapping[str, float]) -> dict[str, float]:
    """Per FU: its hours plus the longest tail among what waits on it, as the engine waits: a
    same-batch dependant waits for the FU itself (merged), a later batch's dependant for the
    FU's whole batch to land, so every FU of that batch carries the dependant's tail.

    Linear: one pass in reverse topological order over FUs and one node per batch ("landed");
    FUs on a cycle (refused by validation) get their own hours."""
    needs = all_prerequisites(plan)
    batch_of: dict[str, int] = {}
    members: dict[int, list[str]] = {}
    for index, batch in enumerate(plan.batches):
        for fu_id in batch.feature_units:
            if fu_id not in batch_of:
                batch_of[fu_id] = index
                members.setdefault(index, []).append(fu_id)
    # nodes: ("f", fu_id) and ("b", batch index); edges point from what is waited on
    nodes: list[tuple[str, object]] = [("f", f) for f in batch_of] + [("b", i) for i in members]
    after: dict[tuple[str, object], set[tuple[str, object]]] = {n: set() for n in nodes}
    for fu_id, index in batch_of.items():
        after[("f", fu_id)].add(("b", index))
        for dep in needs.get(fu_id, ()):
            if dep not in batch_of:
                continue
            source = ("f", dep) if batch_of[dep] == index else ("b", batch_of[dep])
            after[source].add(("f", fu_id))
    pending = {n: len(after[n]) for n in nodes}
    before: dict[tuple[str, object], list[tuple[str, object]]] = {n: [] for n in nodes}
    for node, later in after.items():
        for nxt in later:
            before[nxt].append(node)
    order = [n for n in nodes if pending[n] == 0]
    tail: dict[tuple[str, object], float] = {}
    index_ = 0
    while index_ < len(order):
        node = order[index_]
        index_ += 1
        own = durations_h.get(str(node[1]), 0.0) if node[0] == "f" else 0.0
        tail[node] = own + max((tail[n] for n in after[node] if n in tail), default=0.0)
        for prior in before[node]:
            pending[prior] -= 1
            if pending[prior] == 0:
                order.append(prior)
    return {f: tail.get(("f", f), durations_h.get(f, 0.0)) for f in batch_of}


def candidates(
    plan: ReleasePlan, durations_h: Mapping[str, float] | None = None
) -> dict[str, Candidate]:
    """One candidate per scheduled FU, ranked P0 first, then longest remaining critical path
    (from `durations_h`; without them, schedule order alone), then schedule order."""
    tails = tails_h(plan, durations_h) if durations_h else {}
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
                tail_h=tails.get(fu_id, 0.0),
            )
            position += 1
    return result


def all_prerequisites(plan: ReleasePlan) -> dict[str, tuple[str, ...]]:
    """Per scheduled FU, the in-release FUs that must be complete before it starts (its own
    and its batch's dependencies, first mention first), in one linear pass."""
    in_release = {unit.id: unit for unit in plan.feature_units}
    result: dict[str, tuple[str, ...]] = {}
    for batch in plan.batches:
        for fu_id in batch.feature_units:
            if fu_id not in in_release or fu_id in result:
                continue
            wanted = (*in_release[fu_id].dependencies, *batch.dependencies)
            result[fu_id] = tuple(
                dict.fromkeys(d for d in wanted if d in in_release and d != fu_id)
            )
    return result


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
