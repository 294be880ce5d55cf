"""Predicting a release's schedule from its FUs' expected durations (pure).

The simulator follows the engine's own rules, so what `orchd plan` predicts is what orchd does:
an FU starts when its same-batch prerequisites are merged and its other prerequisites' batches
have landed (`prerequisites`), after any checkpoint that holds it, in a slot granted by the same
`choose_grants` the engine's `SlotPool` calls; a batch lands once all its FUs are done and its
gate has run (gates run one at a time). Agents take exactly their estimate; nothing fails.

Beside it, the numbers the prediction is judged against: the sequential sum, the strict-batch
barrier (each batch after the previous one, the seed's literal rule) and the lower bound no
schedule can beat: max(critical path, work / slots, high-risk work / high-risk slots).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from orchestrator.core.scheduling import (
    Candidate,
    all_prerequisites,
    candidates,
    choose_grants,
)
from orchestrator.models.release import ReleasePlan, RiskLevel


@dataclass(frozen=True)
class Bar:
    """One FU in the predicted schedule (hours from the release's start)."""

    fu_id: str
    batch_id: Decimal
    start_h: float
    end_h: float
    high_risk: bool


@dataclass(frozen=True)
class Prediction:
    makespan_h: float
    bars: tuple[Bar, ...]
    landed_h: dict[Decimal, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    max_parallel: int
    max_high_risk: int
    strict_batches: bool = False
    checkpoint_wait_h: float | None = None  # None: checkpoints hold nothing (`continue`)
    gate_h: float = 0.0  # one batch gate's run time


@dataclass(frozen=True)
class Comparison:
    """What `orchd plan` prints side by side."""

    predicted: Prediction
    strict_barrier_h: float | None  # None: a batch depends on a later one (no barrier order)
    sequential_h: float
    lower_bound_h: float
    critical_path_h: float
    critical_path: tuple[str, ...]


def _index(plan: ReleasePlan) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    order = {b.batch_id: i for i, b in enumerate(plan.batches)}
    batch_of: dict[str, int] = {}
    for batch in plan.batches:
        for fu_id in batch.feature_units:
            batch_of.setdefault(fu_id, order[batch.batch_id])
    needs = all_prerequisites(plan)
    prereqs = {f: needs.get(f, ()) for f in batch_of}
    return batch_of, prereqs


def simulate(
    plan: ReleasePlan,
    durations_h: Mapping[str, float],
    limits: Limits,
    *,
    cands: Mapping[str, Candidate] | None = None,
) -> Prediction:
    """The release as orchd would run it, if every FU took its expected time."""
    batch_of, prereqs = _index(plan)
    ranked = dict(cands) if cands is not None else candidates(plan, durations_h)
    members: dict[int, list[str]] = {}
    for fu_id, index in batch_of.items():
        members.setdefault(index, []).append(fu_id)
    previous = dict(zip(sorted(members)[1:], sorted(members), strict=False))  # strict batches
    checkpointed = {c.after_batch for c in plan.checkpoints}
    held = sorted(i for i, b in enumerate(plan.batches) if b.batch_id in checkpointed)
    done: set[str] = set()
    landed: dict[int, float] = {}
    released: dict[int, float] = {}  # checkpointed batch → when its hold lifts
    running: dict[str, float] = {}  # fu → end
    bars: list[Bar] = []
    started: set[str] = set()
    gate_free = 0.0
    landing: dict[int, float] = {}  # batch → when its gate finishes
    now = 0.0

    def ready(fu_id: str) -> bool:
        index = batch_of[fu_id]
        if limits.strict_batches and index in previous and previous[index] not in landed:
            return False
        for dep in prereqs[fu_id]:
            if batch_of.get(dep) == index:
                if dep not in done:
                    return False
            elif batch_of.get(dep) is not None and batch_of[dep] not in landed:
                return False
        if limits.checkpoint_wait_h is not None:
            for h in held:
                if h < index and (h not in released or released[h] > now + 1e-9):
                    return False
        return True

    while len(landed) < len(members):
        for index in sorted(members):
            if (
                index not in landed
                and index not in landing
                and all(f in done for f in members[index])
            ):
                start = max(now, gate_free)
                gate_free = start + limits.gate_h
                landing[index] = gate_free
        for index, at in list(landing.items()):
            if at <= now + 1e-9:
                landed[index] = at
                del landing[index]
                if index in held and limits.checkpoint_wait_h is not None:
                    released[index] = at + limits.checkpoint_wait_h
        waiting = [ranked[f] for f in batch_of if f not in started and ready(f)]
        grants = choose_grants(
            waiting,
            [ranked[f] for f in running],
            max_parallel=limits.max_parallel,
            max_high_risk=limits.max_high_risk,
        )
        for fu_id in grants:
            started.add(fu_id)
            end = now + durations_h[fu_id]
            running[fu_id] = end
            bars.append(
                Bar(
                    fu_id,
                    plan.batches[batch_of[fu_id]].batch_id,
                    now,
                    end,
                    ranked[fu_id].high_risk,
                )
            )
        upcoming = [*running.values(), *landing.values()]
        upcoming += [t for t in released.values() if t > now + 1e-9]
        if not upcoming:
            if len(landed) < len(members):
                raise ValueError("the plan cannot finish: a dependency waits on itself")
            break
        now = min(upcoming)
        for fu_id, end in list(running.items()):
            if end <= now + 1e-9:
                done.add(fu_id)
                del running[fu_id]
    makespan = max(landed.values(), default=0.0)
    return Prediction(
        makespan,
        tuple(bars),
        {plan.batches[i].batch_id: t for i, t in landed.items()},
    )


def critical_path(
    plan: ReleasePlan, durations_h: Mapping[str, float]
) -> tuple[float, tuple[str, ...]]:
    """The longest chain of prerequisites, by expected hours."""
    batch_of, prereqs = _index(plan)
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    visiting: set[str] = set()

    def visit(fu_id: str) -> float:
        if fu_id in finish:
            return finish[fu_id]
        stack: list[tuple[str, bool]] = [(fu_id, False)]
        while stack:
            node, expanded = stack.pop()
            if node in finish:
                continue
            deps = [d for d in prereqs.get(node, ()) if d in batch_of]
            if not expanded:
                if node in visiting:
                    raise ValueError(f"dependency cycle through {node}")
                visiting.add(node)
                stack.append((node, True))
                stack.extend((d, False) for d in deps if d not in finish)
                continue
            visiting.discard(node)
            best = max(deps, key=lambda d: finish[d], default=None)
            via[node] = best
            finish[node] = (finish[best] if best else 0.0) + durations_h[node]
        return finish[fu_id]

    for fu_id in batch_of:
        visit(fu_id)
    if not finish:
        return 0.0, ()
    last = max(finish, key=lambda f: finish[f])
    chain: list[str] = []
    node: str | None = last
    while node is not None:
        chain.append(node)
        node = via[node]
    return finish[last], tuple(reversed(chain))


def compare(plan: ReleasePlan, durations_h: Mapping[str, float], limits: Limits) -> Comparison:
    """orchd's predicted makespan beside the strict-batch barrier, the sequential sum and the
    lower bound."""
    scheduled = [f for b in plan.batches for f in b.feature_units]
    work = sum(durations_h[f] for f in dict.fromkeys(scheduled))
    high_work = sum(
        durations_h[f] for f in dict.fromkeys(scheduled) if plan.fu(f).risk_level is RiskLevel.HIGH
    )
    path_h, path = critical_path(plan, durations_h)
    bound = max(
        path_h,
        work / max(1, limits.max_parallel),
        high_work / max(1, limits.max_high_risk),
    )
    predicted = simulate(plan, durations_h, limits)
    try:
        strict: float | None = simulate(
            plan, durations_h, replace(limits, strict_batches=True)
        ).makespan_h
    except ValueError:
        strict = None
    return Comparison(predicted, strict, work, bound, path_h, path)
