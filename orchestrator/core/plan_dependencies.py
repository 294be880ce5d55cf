"""Plan checks on order: dependencies that never complete, cycles and deadlocks.

An FU waits for its own dependencies and its batch's `dependencies` (see `core.scheduling`);
under `strict_batches` a batch also waits for every earlier batch. A dependency in another
batch is only met once that whole batch lands, so batches must not wait for each other.

Every check is linear in the plan's size (FUs, dependencies, batch dependencies) when the plan
is sound: the wait graph is built once (`plan_waits`), completion is one topological pass, and
FU cycles are strongly connected components; only reporting a problem looks further.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from orchestrator.core.dependency_graph import find_cycles
from orchestrator.core.findings import Finding
from orchestrator.core.plan_index import PlanIndex
from orchestrator.core.plan_waits import WaitGraph, build_waits, completes, components, own_deps
from orchestrator.models.batch_id import format_batch_id
from orchestrator.models.release import Batch, ReleasePlan, Source


def _waits_for(ix: PlanIndex, fu_id: str) -> list[tuple[str, str]]:
    """(dependency, how) pairs an FU waits for under orchd's rule, in-release only.

    For reporting: it lists the FU's batch dependencies too, so call it for FUs with a problem.
    """
    own = own_deps(ix, fu_id)
    result = [(dep, "its own dependency") for dep in own]
    batch = ix.batch_of.get(fu_id)
    if batch is not None:
        how = f"a dependency of batch {format_batch_id(batch.batch_id)}"
        seen = {fu_id, *own}
        for dep in batch.dependencies:
            if dep in ix.units and dep not in seen:
                seen.add(dep)
                result.append((dep, how))
    return result


def dependency_findings(ix: PlanIndex, strict_batches: bool) -> list[Finding]:
    """Dependencies on deferred, unscheduled, same-batch, later-batch or external FUs."""
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
                        f"orchd starts {unit.id} only after {dep} is merged into the batch's "
                        "candidate, from that commit",
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
                        f"orchd makes {unit.id} wait until batch {there} lands",
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
                        f"its other FUs wait until {dep} is merged into the batch's candidate",
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
                        f"orchd makes its FUs wait until batch {there} lands",
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


def _batches(ix: PlanIndex) -> list[Batch]:
    """Distinct batches in batch-id order."""
    unique: dict[Decimal, Batch] = {}
    for batch in ix.batch_of.values():
        unique.setdefault(batch.batch_id, batch)
    return [unique[k] for k in sorted(unique)]


def cycle_findings(ix: PlanIndex) -> list[Finding]:
    """FU dependency cycles (deferred FUs left out: they are reported on their own)."""
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


def deadlock_findings(
    ix: PlanIndex, strict_batches: bool, already: list[Finding], graph: WaitGraph | None = None
) -> list[Finding]:
    """Deadlocks via batch dependencies (unless `already` explains them), and strict-batch ones."""
    waits = graph or build_waits(ix)
    runnable = waits.fus
    explained = any(
        f.code in {"dependency_cycle", "depends_on_deferred", "depends_on_unscheduled"}
        for f in already
    )
    found: list[Finding] = []
    done = completes(ix, waits, strict_batches=False)
    stuck = [f for f in runnable if f not in done]
    if stuck and not explained:
        stuck_graph = {f: [d for d, _ in _waits_for(ix, f)] for f in stuck}
        for cycle in find_cycles(stuck_graph) or [stuck]:
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
    strict_done = completes(ix, waits, strict_batches=True)
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


def checkpoint_findings(plan: ReleasePlan, ix: PlanIndex) -> list[Finding]:
    """A checkpoint after batch B holds every later batch until B completes and a human says
    continue; an FU at or before B that waits for an FU after B would wait forever.

    Per checkpoint one pass over the FUs' own dependencies and the batches' dependencies.
    """
    position = {b.batch_id: i for i, b in enumerate(plan.batches)}
    found: list[Finding] = []
    for checkpoint in plan.checkpoints:
        at = position.get(checkpoint.after_batch)
        if at is None:
            continue  # a checkpoint after no batch is reported by the loader
        label = format_batch_id(checkpoint.after_batch)

        def held(dep: str, at: int = at) -> Batch | None:
            dep_batch = ix.batch_of.get(dep)
            if dep_batch is None or position[dep_batch.batch_id] <= at:
                return None
            return dep_batch

        late: dict[int, list[tuple[str, Batch]]] = {}
        for fu_id, batch in ix.batch_of.items():
            if fu_id not in ix.units or position[batch.batch_id] > at:
                continue
            if id(batch) not in late:
                late[id(batch)] = [
                    (dep, there)
                    for dep in dict.fromkeys(batch.dependencies)
                    if dep in ix.units and (there := held(dep)) is not None
                ]
            own = own_deps(ix, fu_id)
            waits = [(dep, "its own dependency", held(dep)) for dep in own]
            if late[id(batch)]:
                how = f"a dependency of batch {format_batch_id(batch.batch_id)}"
                mine = {fu_id, *own}
                waits += [(dep, how, there) for dep, there in late[id(batch)] if dep not in mine]
            for dep, how, dep_batch in waits:
                if dep_batch is None:
                    continue
                found.append(
                    Finding(
                        "error",
                        "checkpoint_deadlock",
                        checkpoint.label,
                        f"{fu_id} (batch {format_batch_id(batch.batch_id)}) waits for {dep} "
                        f"({how}) in batch {format_batch_id(dep_batch.batch_id)}, which this "
                        f"checkpoint holds until batch {label} completes: deadlock",
                        f"move the checkpoint after batch {format_batch_id(dep_batch.batch_id)}, "
                        f"or {fu_id} to a later batch",
                        checkpoint.source,
                    )
                )
    return found


@dataclass(frozen=True)
class _Wait:
    """One reason batch `here` cannot land before batch `there`: `fu_id` waits for `dep`."""

    fu_id: str
    dep: str
    here: Batch
    there: Batch
    via_batch: bool  # through `here`'s batch-level `dependencies`, not the FU's own
    on_fu_cycle: bool  # `dep` also waits (transitively) for `fu_id`: an FU cycle

    def clause(self) -> str:
        here, there = format_batch_id(self.here.batch_id), format_batch_id(self.there.batch_id)
        if self.via_batch:
            return (
                f"batch {here} waits for {self.dep} (one of its dependencies) "
                f"to land with batch {there}"
            )
        return f"{self.fu_id} (batch {here}) waits for {self.dep} to land with batch {there}"


@dataclass
class _Step:
    """Why batch `here` waits for batch `there` to land: the wait to tell (first of the best
    kind: off an FU cycle before on one, an FU's own dependency before a batch's), and whether
    any wait behind the edge lies off an FU cycle."""

    best: _Wait
    off_cycle: bool

    def offer(self, wait: _Wait) -> None:
        self.off_cycle = self.off_cycle or not wait.on_fu_cycle
        if _rank(wait) < _rank(self.best):
            self.best = wait


def _rank(wait: _Wait) -> tuple[bool, bool]:
    return wait.on_fu_cycle, wait.via_batch


def _landing_waits(ix: PlanIndex, graph: WaitGraph) -> dict[Decimal, dict[Decimal, _Step]]:
    """batch → batch it waits to land → the step between them, in one pass.

    `dep` waits (transitively) for `fu_id` exactly when both lie in one strongly connected
    component of the wait graph, since `fu_id` waits for `dep`. A batch dependency is one wait
    per batch (its message names the batch, not a member): on an FU cycle when every member that
    waits for it through the batch lies in the dependency's component.
    """
    comp = components(graph.succ)
    edges: dict[Decimal, dict[Decimal, _Step]] = {}

    def add(wait: _Wait) -> None:
        steps = edges.setdefault(wait.here.batch_id, {})
        step = steps.get(wait.there.batch_id)
        if step is None:
            steps[wait.there.batch_id] = _Step(wait, not wait.on_fu_cycle)
        else:
            step.offer(wait)

    members: dict[int, list[int]] = {}
    batches: dict[int, Batch] = {}
    for i, fu_id in enumerate(graph.fus):
        here = ix.batch_of[fu_id]
        members.setdefault(id(here), []).append(i)
        batches.setdefault(id(here), here)
        for dep in graph.own[i]:
            target = graph.node.get(dep)
            if target is None:
                continue
            there = ix.batch_of[dep]
            if there.batch_id != here.batch_id:
                add(_Wait(fu_id, dep, here, there, False, comp[target] == comp[i]))
    for key, batch in batches.items():
        deps = [
            d
            for d in graph.batch_deps.get(key, ())
            if d in graph.node and ix.batch_of[d].batch_id != batch.batch_id
        ]
        if not deps:
            continue
        wanted = set(deps)
        per_comp = Counter(comp[i] for i in members[key])
        own_all: Counter[str] = Counter()
        own_off: Counter[str] = Counter()
        for i in members[key]:
            for dep in graph.own[i]:
                if dep in wanted:
                    own_all[dep] += 1
                    own_off[dep] += comp[i] != comp[graph.node[dep]]
        total = len(members[key])
        for dep in deps:
            if total - own_all[dep] == 0:
                continue  # every member already waits for it as its own dependency
            off = total - per_comp[comp[graph.node[dep]]] - own_off[dep] > 0
            first = graph.fus[members[key][0]]
            add(_Wait(first, dep, batch, ix.batch_of[dep], True, not off))
    return edges


def landing_cycle_findings(ix: PlanIndex, graph: WaitGraph | None = None) -> list[Finding]:
    """Batches that wait for each other to land, so none of them ever lands.

    Within a batch an FU waits only for its dependency to merge into the batch's candidate; a
    dependency in another batch makes it wait until that whole batch lands. Batch A holding an
    FU that waits for batch B while B holds one that waits for A is a deadlock, even when the
    FUs involved are all different. A batch cycle whose every wait lies on an FU cycle is left
    to `dependency_cycle` / `deadlock`, which already report it.
    """
    edges = _landing_waits(ix, graph or build_waits(ix))
    batch_graph = {
        str(here): [str(there) for there in sorted(to)] for here, to in sorted(edges.items())
    }
    found: list[Finding] = []
    for cycle in find_cycles(batch_graph):
        ids = [Decimal(key) for key in cycle[:-1]]
        first = ids.index(min(ids))
        ring = ids[first:] + ids[:first]
        steps = [edges[a][b] for a, b in zip(ring, [*ring[1:], ring[0]], strict=True)]
        if not any(step.off_cycle for step in steps):
            continue
        found.append(_landing_finding(ix, [step.best for step in steps]))
    return found


def _landing_finding(ix: PlanIndex, chosen: list[_Wait]) -> Finding:
    """One landing cycle, told as who waits for whom, located at the first wait's source."""
    clauses = [w.clause() for w in chosen]
    deps = list(dict.fromkeys(w.dep for w in chosen))
    if len(chosen) == 2:
        story = f"{clauses[0]}, while {clauses[1]}: neither batch can land"
        fix = f"move {deps[0]} or {deps[-1]} so both are in one batch, or into an earlier batch"
    else:
        story = f"{', while '.join(clauses)}: none of these batches can land"
        fix = (
            f"move one of {', '.join(deps[:-1])} or {deps[-1]} into the batch that waits for "
            "it, or into an earlier batch"
        )
    head = chosen[0]
    if head.via_batch:
        field = f"batches[{format_batch_id(head.here.batch_id)}].dependencies"
        source = head.here.source
    else:
        field = f"feature_units[{head.fu_id}].dependencies"
        source = ix.units[head.fu_id].source
    return Finding("error", "landing_cycle", field, story, fix, source)
