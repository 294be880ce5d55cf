"""Pure validation of a release plan: what makes it wrong, what is merely odd, can it finish.

orchd's rule (shared with `core.scheduling`): an FU starts when its own dependencies and its
batch's `dependencies` are complete. Dependencies outside the release are assumed complete.
Decisions documented here because the loader and the engine both rely on them:
- an FU listed in a `deferred*` section never runs and never completes, so an FU (or batch)
  that depends on it would wait forever: that is an error, not a warning;
- an FU in no batch never runs: a warning, unless something depends on it (then an error);
- a batch listing one of its own members as a dependency makes the other members wait for it
  (the member itself ignores it, as `scheduling.prerequisites` does): a warning.
Under `strict_batches` (the seed's literal rule) a batch also waits for every earlier batch;
the deadlocks that causes are errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from orchestrator.core.dependency_graph import derive_batches, find_cycles
from orchestrator.models.batch_id import format_batch_id
from orchestrator.models.release import Batch, FeatureUnit, Limits, ReleasePlan, Source

__all__ = ["Finding", "check_plan", "derive_batches", "find_cycles"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem, rendered by the loader as `file:line:col: field: problem (fix)`."""

    severity: Severity
    code: str
    field: str
    problem: str
    fix: str = ""
    source: Source | None = None

    def render(self) -> str:
        where = f"{self.source.render()}: " if self.source else ""
        text = f"{where}{self.field}: {self.problem}"
        return f"{text} ({self.fix})" if self.fix else text


@dataclass(frozen=True)
class _Index:
    units: dict[str, FeatureUnit]
    batch_of: dict[str, Batch]
    deferred: frozenset[str]
    order: dict[Decimal, int]


def _index(plan: ReleasePlan) -> _Index:
    units: dict[str, FeatureUnit] = {}
    for unit in plan.feature_units:
        units.setdefault(unit.id, unit)
    batch_of: dict[str, Batch] = {}
    for batch in plan.batches:
        for fu_id in batch.feature_units:
            batch_of.setdefault(fu_id, batch)
    order = {b.batch_id: i for i, b in enumerate(sorted(plan.batches, key=lambda b: b.batch_id))}
    return _Index(units, batch_of, frozenset(plan.deferred), order)


def _waits_for(ix: _Index, fu_id: str) -> list[tuple[str, str]]:
    """(dependency, how) pairs an FU waits for under orchd's rule, in-release only."""
    result: list[tuple[str, str]] = []
    for dep in ix.units[fu_id].dependencies:
        if dep in ix.units and dep != fu_id:
            result.append((dep, "its own dependency"))
    batch = ix.batch_of.get(fu_id)
    if batch is not None:
        for dep in batch.dependencies:
            if dep in ix.units and dep != fu_id and all(dep != d for d, _ in result):
                result.append((dep, f"a dependency of batch {format_batch_id(batch.batch_id)}"))
    return result


def _structure(plan: ReleasePlan, ix: _Index, where: Source | None) -> list[Finding]:
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


def _limits(limits: Limits, sources: Mapping[str, Source], where: Source | None) -> list[Finding]:
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


def _dependencies(ix: _Index, strict_batches: bool) -> list[Finding]:
    found: list[Finding] = []
    external: dict[str, list[tuple[str, Source | None]]] = {}

    def position(dep: str) -> Batch | None:
        return ix.batch_of.get(dep) if dep in ix.units else None

    def never(dep: str, who: str, field: str, source: Source | None) -> bool:
        """Report a dependency that can never complete; True when it was one."""
        if dep in ix.deferred:
            found.append(
                Finding(
                    "error",
                    "depends_on_deferred",
                    field,
                    f"{who} depends on {dep}, which is deferred: it would wait forever",
                    f"remove the dependency or move {dep} back into feature_units and a batch",
                    source,
                )
            )
            return True
        if dep in ix.units and dep not in ix.batch_of and ix.batch_of:
            found.append(
                Finding(
                    "error",
                    "depends_on_unscheduled",
                    field,
                    f"{who} depends on {dep}, which is in no batch and never runs: "
                    "it would wait forever",
                    f"add {dep} to a batch",
                    source,
                )
            )
            return True
        return False

    for unit in ix.units.values():
        if unit.id in ix.deferred:
            continue
        field = f"feature_units[{unit.id}].dependencies"
        mine = ix.batch_of.get(unit.id)
        for dep in unit.dependencies:
            if dep == unit.id:
                found.append(
                    Finding(
                        "error",
                        "self_dependency",
                        field,
                        f"{unit.id} depends on itself",
                        "remove it from its own dependencies",
                        unit.source,
                    )
                )
                continue
            if never(dep, unit.id, field, unit.source):
                continue
            if dep not in ix.units:
                external.setdefault(dep, []).append((unit.id, unit.source))
                continue
            theirs = position(dep)
            if mine is None or theirs is None:
                continue
            here, there = format_batch_id(mine.batch_id), format_batch_id(theirs.batch_id)
            if theirs.batch_id == mine.batch_id:
                found.append(
                    Finding(
                        "warning",
                        "same_batch_dependency",
                        field,
                        f"{unit.id} depends on {dep} in the same batch {here}: "
                        f"orchd starts {unit.id} only after {dep} completes",
                        f"move {unit.id} to a later batch to make the order explicit",
                        unit.source,
                    )
                )
            elif theirs.batch_id > mine.batch_id and not strict_batches:
                found.append(
                    Finding(
                        "warning",
                        "later_batch_dependency",
                        field,
                        f"{unit.id} (batch {here}) depends on {dep} in later batch {there}: "
                        f"orchd makes {unit.id} wait for {dep}",
                        f"move {unit.id} to a batch after {there}",
                        unit.source,
                    )
                )
    for batch in _batches(ix):
        name = format_batch_id(batch.batch_id)
        field = f"batches[{name}].dependencies"
        for dep in batch.dependencies:
            if never(dep, f"batch {name}", field, batch.source):
                continue
            if dep not in ix.units:
                external.setdefault(dep, []).append((f"batch {name}", batch.source))
                continue
            theirs = position(dep)
            if theirs is None:
                continue
            if theirs.batch_id == batch.batch_id:
                found.append(
                    Finding(
                        "warning",
                        "same_batch_dependency",
                        field,
                        f"batch {name} depends on its own member {dep}: "
                        f"its other FUs wait for {dep}",
                        f"move {dep} to an earlier batch",
                        batch.source,
                    )
                )
            elif theirs.batch_id > batch.batch_id and not strict_batches:
                there = format_batch_id(theirs.batch_id)
                found.append(
                    Finding(
                        "warning",
                        "later_batch_dependency",
                        field,
                        f"batch {name} depends on {dep} in later batch {there}: "
                        f"orchd makes its FUs wait for {dep}",
                        f"move {dep} to a batch before {name}",
                        batch.source,
                    )
                )
    for dep, users in external.items():
        names = ", ".join(dict.fromkeys(who for who, _ in users))
        found.append(
            Finding(
                "warning",
                "external_dependency",
                "dependencies",
                f"{dep} is not in this release (needed by {names}): assumed complete (external)",
                f"make sure {dep} is done before starting",
                users[0][1],
            )
        )
    return found


def _batches(ix: _Index) -> list[Batch]:
    """Distinct batches in batch-id order."""
    unique: dict[Decimal, Batch] = {}
    for batch in ix.batch_of.values():
        unique.setdefault(batch.batch_id, batch)
    return [unique[k] for k in sorted(unique)]


def _cycles(ix: _Index) -> list[Finding]:
    graph = {
        fu_id: [d for d in unit.dependencies if d in ix.units and d != fu_id]
        for fu_id, unit in ix.units.items()
        if fu_id not in ix.deferred
    }
    found: list[Finding] = []
    for cycle in find_cycles(graph):
        unit = ix.units[cycle[0]]
        found.append(
            Finding(
                "error",
                "dependency_cycle",
                f"feature_units[{cycle[0]}].dependencies",
                "dependency cycle: " + " → ".join(cycle),
                "remove one of these dependencies",
                unit.source,
            )
        )
    return found


def _simulate(ix: _Index, runnable: Iterable[str], strict_batches: bool) -> set[str]:
    """FUs that complete if every started FU succeeds; the rest wait forever."""
    pending = {fu_id for fu_id in runnable}
    prereqs = {fu_id: [d for d, _ in _waits_for(ix, fu_id)] for fu_id in pending}
    done: set[str] = set()
    ordered = _batches(ix)
    while True:
        open_batches: set[Decimal] = set()
        for batch in ordered:
            open_batches.add(batch.batch_id)
            members = [f for f in batch.feature_units if f in pending or f in done]
            if strict_batches and not all(f in done for f in members):
                break
        progressed = False
        for fu_id in sorted(pending - done):
            batch = ix.batch_of[fu_id]
            if strict_batches and batch.batch_id not in open_batches:
                continue
            if all(d in done for d in prereqs[fu_id]):
                done.add(fu_id)
                progressed = True
        if not progressed:
            return done


def _deadlocks(ix: _Index, strict_batches: bool, already: list[Finding]) -> list[Finding]:
    runnable = [f for f in ix.batch_of if f in ix.units and f not in ix.deferred]
    explained = any(
        f.code in {"dependency_cycle", "depends_on_deferred", "depends_on_unscheduled"}
        for f in already
    )
    found: list[Finding] = []
    done = _simulate(ix, runnable, strict_batches=False)
    stuck = [f for f in runnable if f not in done]
    if stuck and not explained:
        graph = {f: [d for d, _ in _waits_for(ix, f)] for f in stuck}
        for cycle in find_cycles(graph) or [stuck]:
            unit = ix.units[cycle[0]]
            found.append(
                Finding(
                    "error",
                    "deadlock",
                    f"feature_units[{cycle[0]}]",
                    "these FUs wait for each other through batch dependencies: "
                    + " → ".join(cycle),
                    "remove one of the batch dependencies or move an FU to another batch",
                    unit.source,
                )
            )
    if not strict_batches:
        return found
    strict_done = _simulate(ix, runnable, strict_batches=True)
    for fu_id in runnable:
        if fu_id in strict_done or fu_id not in done:
            continue
        mine = ix.batch_of[fu_id]
        for dep, how in _waits_for(ix, fu_id):
            theirs = ix.batch_of.get(dep)
            if theirs is None or theirs.batch_id <= mine.batch_id:
                continue
            here, there = format_batch_id(mine.batch_id), format_batch_id(theirs.batch_id)
            found.append(
                Finding(
                    "error",
                    "strict_batches_deadlock",
                    f"feature_units[{fu_id}].dependencies",
                    f"with --strict-batches {fu_id} (batch {here}) waits for {dep} ({how}) in "
                    f"later batch {there}, which cannot start before batch {here} completes: "
                    "deadlock",
                    f"move {fu_id} to a batch after {there}, or run without --strict-batches",
                    ix.units[fu_id].source,
                )
            )
    return found


def check_plan(
    plan: ReleasePlan,
    *,
    strict_batches: bool = False,
    where: Source | None = None,
    limit_sources: Mapping[str, Source] | None = None,
) -> list[Finding]:
    """Every error and warning about `plan`; `where` names the manifest for plan-wide ones."""
    ix = _index(plan)
    found = _structure(plan, ix, where)
    found += _limits(plan.limits, limit_sources or {}, where)
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
    found += _dependencies(ix, strict_batches)
    found += _cycles(ix)
    found += _deadlocks(ix, strict_batches, found)
    return found
