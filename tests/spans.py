"""Counting what overlaps in time, for tests that check a limit on things open at once."""

from __future__ import annotations


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans open at one instant (one ending as another starts is no overlap)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    level = most = 0
    for _, delta in edges:
        level += delta
        most = max(most, level)
    return most
