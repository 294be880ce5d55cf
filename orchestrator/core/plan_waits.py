"""Who waits for whom in a plan, built once and linear in its size (FUs plus dependencies).

An FU waits for its own in-release dependencies and for its batch's `dependencies` (a member the
batch lists ignores itself). Expanding a batch's dependencies into every member would make the
graph members × dependencies large (`dependencies: [0]` names a whole batch), so each batch with
dependencies gets one *gate* node: its members wait for the gate, the gate for the dependencies.
Reachability between FUs is unchanged. Nodes are ints: FUs first (in plan order), then gates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from orchestrator.core.plan_index import PlanIndex
from orchestrator.models.release import Batch


@dataclass(frozen=True)
class WaitGraph:
    """The scheduled, not deferred FUs (`fus`, node i is `fus[i]`) and what each node waits for.

    `succ[node]` lists the nodes it waits for; `blocked[node]` says it also waits for an
    in-release FU that never runs (deferred or in no batch). `own[i]` are FU i's own in-release
    dependencies (distinct, in order, itself left out) and `batch_deps[id(batch)]` a batch's.
    """

    fus: list[str]
    node: dict[str, int]
    succ: list[list[int]]
    blocked: list[bool]
    own: list[tuple[str, ...]]
    batch_deps: dict[int, tuple[str, ...]]

    def batch_waits(self, ix: PlanIndex, fu_id: str) -> tuple[str, ...]:
        """The batch dependencies FU `fu_id` waits for beyond its own (itself left out)."""
        batch = ix.batch_of.get(fu_id)
        if batch is None:
            return ()
        own = set(self.own[self.node[fu_id]]) if fu_id in self.node else set()
        deps = self.batch_deps.get(id(batch)) or _batch_deps(ix, batch)
        return tuple(d for d in deps if d != fu_id and d not in own)


def _batch_deps(ix: PlanIndex, batch: Batch) -> tuple[str, ...]:
    return tuple(dict.fromkeys(d for d in batch.dependencies if d in ix.units))


def own_deps(ix: PlanIndex, fu_id: str) -> tuple[str, ...]:
    """An FU's in-release dependencies, distinct and in order, itself left out."""
    return tuple(
        dict.fromkeys(d for d in ix.units[fu_id].dependencies if d in ix.units and d != fu_id)
    )


def build_waits(ix: PlanIndex) -> WaitGraph:
    """One pass over the scheduled FUs, their dependencies and their batches' dependencies."""
    fus = [f for f in ix.batch_of if f in ix.units and f not in ix.deferred]
    node = {f: i for i, f in enumerate(fus)}
    succ: list[list[int]] = [[] for _ in fus]
    blocked = [False] * len(fus)
    own: list[tuple[str, ...]] = []
    batch_deps: dict[int, tuple[str, ...]] = {}
    listed: dict[int, set[str]] = {}
    gates: dict[int, int] = {}

    def wait(source: int, deps: Iterable[str], skip: set[str] | None = None) -> None:
        for dep in deps:
            if skip is not None and dep in skip:
                continue
            target = node.get(dep)
            if target is None:
                blocked[source] = True
            else:
                succ[source].append(target)

    for i, fu_id in enumerate(fus):
        mine = own_deps(ix, fu_id)
        own.append(mine)
        wait(i, mine)
        batch = ix.batch_of[fu_id]
        key = id(batch)
        if key not in batch_deps:
            batch_deps[key] = _batch_deps(ix, batch)
            listed[key] = set(batch_deps[key])
        deps = batch_deps[key]
        if not deps:
            continue
        if fu_id in listed[key]:
            # a member the batch lists waits for the batch's other dependencies only
            wait(i, deps, {fu_id, *mine})
            continue
        gate = gates.get(key)
        if gate is None:
            gate = gates[key] = len(succ)
            succ.append([])
            blocked.append(False)
            wait(gate, deps)
        succ[i].append(gate)
    return WaitGraph(fus, node, succ, blocked, own, batch_deps)


def settle(
    succ: Sequence[Sequence[int]], blocked: Sequence[bool], count: int | None = None
) -> list[bool]:
    """Which nodes complete if everything that can start succeeds (Kahn's algorithm).

    A node completes once every node it waits for has; a blocked node never does, nor does a
    node on (or waiting for) a cycle.
    """
    size = len(succ) if count is None else count
    waiting = [len(s) for s in succ]
    waiters: list[list[int]] = [[] for _ in range(size)]
    for source, targets in enumerate(succ):
        for target in targets:
            waiters[target].append(source)
    done = [False] * size
    ready = [n for n in range(size) if waiting[n] == 0 and not blocked[n]]
    while ready:
        current = ready.pop()
        done[current] = True
        for other in waiters[current]:
            waiting[other] -= 1
            if waiting[other] == 0 and not blocked[other]:
                ready.append(other)
    return done


def completes(ix: PlanIndex, graph: WaitGraph, strict_batches: bool) -> set[str]:
    """FUs that complete if every started FU succeeds; the rest wait forever.

    Under `strict_batches` a batch also waits for every earlier batch to complete: one node per
    batch id, in order, "done" when its FUs and the batch before it are.
    """
    succ = [list(s) for s in graph.succ]
    blocked = list(graph.blocked)
    if strict_batches:
        members: dict[Decimal, list[int]] = {}
        for i, fu_id in enumerate(graph.fus):
            members.setdefault(ix.batch_of[fu_id].batch_id, []).append(i)
        previous: int | None = None
        for batch_id in sorted(members):
            if previous is not None:
                for i in members[batch_id]:
                    succ[i].append(previous)
            done_node = len(succ)
            succ.append(list(members[batch_id]) + ([previous] if previous is not None else []))
            blocked.append(False)
            previous = done_node
    done = settle(succ, blocked)
    return {fu_id for i, fu_id in enumerate(graph.fus) if done[i]}


def components(succ: Sequence[Sequence[int]]) -> list[int]:
    """Strongly connected component of every node (Tarjan's algorithm, iterative)."""
    size = len(succ)
    index = [-1] * size
    low = [0] * size
    comp = [-1] * size
    on_stack = [False] * size
    stack: list[int] = []
    counter = 0
    found = 0
    for root in range(size):
        if index[root] != -1:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            current, position = work[-1]
            targets = succ[current]
            if position < len(targets):
                work[-1] = (current, position + 1)
                target = targets[position]
                if index[target] == -1:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack[target] = True
                    work.append((target, 0))
                elif on_stack[target]:
                    low[current] = min(low[current], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    comp[member] = found
                    if member == current:
                        break
                found += 1
    return comp
