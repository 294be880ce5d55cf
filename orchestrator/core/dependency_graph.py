"""The FU dependency graph: cycles, and batches derived as topological layers.

neotoma's schedules say they were "generated from dependency analysis and topological sort";
orchd does the same when neither the manifest nor the markdown gives batches.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from orchestrator.models.release import Batch, FeatureUnit


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each elementary cycle found by DFS once, as [a, b, …, a]; iterative (no recursion).

    Linear in the graph's size (plus the cycles reported): each node's children are listed once,
    and a node's place on the current path is a lookup, not a search.
    """
    color: dict[str, int] = {}
    cycles: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    for root in graph:
        if color.get(root):
            continue
        path: list[str] = []
        place: dict[str, int] = {}
        stack: list[tuple[str, list[str], int]] = []
        entering: str | None = root
        while entering is not None or stack:
            if entering is not None:
                color[entering] = 1
                place[entering] = len(path)
                path.append(entering)
                stack.append((entering, [c for c in graph.get(entering, ()) if c in graph], 0))
                entering = None
            node, children, index = stack.pop()
            if index < len(children):
                stack.append((node, children, index + 1))
                child = children[index]
                state = color.get(child, 0)
                if state == 0:
                    entering = child
                elif state == 1:
                    cycle = [*path[place[child] :], child]
                    key = frozenset(cycle)
                    if key not in seen_sets:
                        seen_sets.add(key)
                        cycles.append(cycle)
            else:
                color[node] = 2
                del place[node]
                path.pop()
    return cycles


def derive_batches(
    feature_units: Sequence[FeatureUnit], deferred: Collection[str] = ()
) -> tuple[Batch, ...]:
    """Topological layers of the in-release dependency graph: batch N = longest chain N.

    FUs on a cycle (or waiting for one) get no batch (the cycle is reported by `check_plan`).
    Kahn's algorithm, one pass over the FUs and their dependencies.
    """
    units = {u.id: u for u in feature_units if u.id not in deferred}
    waiting: dict[str, int] = {}
    dependents: dict[str, list[str]] = {}
    for fu_id, unit in units.items():
        deps = {d for d in unit.dependencies if d in units and d != fu_id}
        waiting[fu_id] = len(deps)
        for dep in deps:
            dependents.setdefault(dep, []).append(fu_id)
    layer: dict[str, int] = {}
    wave = [fu_id for fu_id, count in waiting.items() if count == 0]
    level = 0
    while wave:
        following: list[str] = []
        for fu_id in wave:
            layer[fu_id] = level
            for other in dependents.get(fu_id, ()):
                waiting[other] -= 1
                if waiting[other] == 0:
                    following.append(other)
        wave = following
        level += 1
    layers: list[list[str]] = [[] for _ in range(level)]
    for fu_id in units:
        if fu_id in layer:
            layers[layer[fu_id]].append(fu_id)
    batches: list[Batch] = []
    for number, members in enumerate(layers):
        needs = tuple(
            dict.fromkeys(d for m in members for d in units[m].dependencies if d in units)
        )
        batches.append(
            Batch(
                batch_id=Decimal(number),
                feature_units=tuple(members),
                dependencies=needs,
                title="derived from FU dependencies",
            )
        )
    return tuple(batches)
