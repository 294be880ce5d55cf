"""The FU dependency graph: cycles, and batches derived as topological layers.

neotoma's schedules say they were "generated from dependency analysis and topological sort";
orchd does the same when neither the manifest nor the markdown gives batches.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from orchestrator.models.release import Batch, FeatureUnit


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each elementary cycle found by DFS once, as [a, b, …, a]; iterative (no recursion)."""
    color: dict[str, int] = {}
    cycles: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    for root in graph:
        if color.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                color[node] = 1
                path.append(node)
            children = [c for c in graph.get(node, ()) if c in graph]
            if index < len(children):
                stack.append((node, index + 1))
                child = children[index]
                state = color.get(child, 0)
                if state == 0:
                    stack.append((child, 0))
                elif state == 1:
                    cycle = [*path[path.index(child) :], child]
                    key = frozenset(cycle)
                    if key not in seen_sets:
                        seen_sets.add(key)
                        cycles.append(cycle)
            else:
                color[node] = 2
                path.pop()
    return cycles


def derive_batches(
    feature_units: Sequence[FeatureUnit], deferred: Collection[str] = ()
) -> tuple[Batch, ...]:
    """Topological layers of the in-release dependency graph: batch N = longest chain N.

    FUs on a cycle get no batch (the cycle is reported as an error by `check_plan`).
    """
    units = {u.id: u for u in feature_units if u.id not in deferred}
    layer: dict[str, int] = {}
    remaining = dict(units)
    level = 0
    while remaining:
        ready = [
            fu_id
            for fu_id, unit in remaining.items()
            if all(d not in remaining or d == fu_id for d in unit.dependencies)
        ]
        if not ready:
            break
        for fu_id in ready:
            layer[fu_id] = level
            del remaining[fu_id]
        level += 1
    batches: list[Batch] = []
    for number in range(level):
        members = tuple(fu_id for fu_id in units if layer.get(fu_id) == number)
        deps = tuple(dict.fromkeys(d for m in members for d in units[m].dependencies if d in units))
        batches.append(
            Batch(
                batch_id=Decimal(number),
                feature_units=members,
                dependencies=deps,
                title="derived from FU dependencies",
            )
        )
    return tuple(batches)
