"""What the release's own finished FUs teach about the rest: a duration model (pure).

The schedule's estimates are written by people for people: a "3 days" FU rarely takes an agent
three times a "1 day" one. The slot policy ranks waiting FUs by their remaining critical path,
so once some FUs have finished, orchd fits `agent hours = a + b × estimated hours` to them
(least squares; `a` is what every FU costs whatever its size: launch, setup, review) and ranks
the rest by what the fit predicts. With agents that take their estimates the fit is the
identity and nothing changes, so `orchd plan`'s prediction still holds; with agents that take
about the same time whatever the estimate, chains with more FUs go first.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass

MIN_FINISHED = 3
"""Finished FUs with an estimate before the fit is used: fewer say too little."""


@dataclass(frozen=True)
class Fit:
    """`hours = fixed_h + per_estimated_h × estimate`."""

    fixed_h: float
    per_estimated_h: float

    def hours(self, estimate_h: float) -> float:
        return self.fixed_h + self.per_estimated_h * estimate_h


def fit(pairs: list[tuple[float, float]]) -> Fit | None:
    """The least-squares line through (estimated hours, agent hours), neither part negative;
    None below `MIN_FINISHED` pairs. All estimates equal: proportional (their ratio)."""
    usable = [(e, t) for e, t in pairs if e > 0 and t >= 0]
    if len(usable) < MIN_FINISHED:
        return None
    n = len(usable)
    mean_e = sum(e for e, _ in usable) / n
    mean_t = sum(t for _, t in usable) / n
    var_e = sum((e - mean_e) ** 2 for e, _ in usable)
    if var_e <= 1e-12 * max(mean_e * mean_e, 1.0):
        return Fit(0.0, statistics.median(t / e for e, t in usable))
    slope = sum((e - mean_e) * (t - mean_t) for e, t in usable) / var_e
    fixed = mean_t - slope * mean_e
    if slope < 0:  # bigger estimates did not take longer: every FU costs the mean
        return Fit(mean_t, 0.0)
    if fixed < 0:  # no fixed part: through the origin
        return Fit(0.0, sum(e * t for e, t in usable) / sum(e * e for e, _ in usable))
    return Fit(fixed, slope)


def learned_hours(
    estimates_h: Mapping[str, float], observed_h: Mapping[str, float]
) -> dict[str, float] | None:
    """Expected agent hours of every FU of `estimates_h` (every scheduled FU, an estimate each,
    see `plan_durations_h`): finished ones as observed, the rest from the fit to the finished
    ones. None while the fit says too little (the estimates stand).

    Rounded to a microhour: equal predictions stay equal, so ties rank by schedule order."""
    line = fit([(estimates_h[f], h) for f, h in observed_h.items() if f in estimates_h])
    if line is None:
        return None
    return {
        fu_id: round(observed_h[fu_id] if fu_id in observed_h else line.hours(estimate), 6)
        for fu_id, estimate in estimates_h.items()
    }


def refit_due(finished: int, last_fitted: int) -> bool:
    """Refit when the finished count reaches `MIN_FINISHED` and then grows by a quarter: a
    release of N FUs refits O(log N) times, each a linear pass over the plan."""
    if finished < MIN_FINISHED:
        return False
    return last_fitted == 0 or finished >= last_fitted * 1.25
