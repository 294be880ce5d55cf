"""The plan checks do work linear in the plan's size: counted in function calls, not seconds.

Issue 9: validating 40k FUs in one dependency chain took 802 s (40k without dependencies:
27 s): batches were derived one layer per pass over every FU, completion was simulated pass
after pass, and each cross-batch wait searched the graph again. A call count is the same on a
loaded machine as on an idle one, so doubling the plan must about double it. (How long a
10k-FU chain takes is measured by `python -m tests.bench.bench_validate`, not here.)
"""

from __future__ import annotations

import cProfile
from collections.abc import Callable
from decimal import Decimal

import pytest

from orchestrator.core.plan_checks import check_plan, derive_batches
from orchestrator.models.release import Batch, Checkpoint, FeatureUnit, Limits, ReleasePlan


def _plan(units: tuple[FeatureUnit, ...], batches: tuple[Batch, ...]) -> ReleasePlan:
    checkpoints = tuple(
        Checkpoint(name=str(i), after_batch=batches[len(batches) * i // 4].batch_id)
        for i in range(1, 4)
        if len(batches) > 4
    )
    return ReleasePlan(
        release_id="v1",
        release_dir=".",
        limits=Limits(),
        feature_units=units,
        batches=batches,
        checkpoints=checkpoints,
    )


def chain(n: int) -> tuple[tuple[FeatureUnit, ...], tuple[Batch, ...] | None]:
    """FU-i depends on FU-(i-1); batches derived (one per FU)."""
    units = tuple(
        FeatureUnit(id=f"FU-{i}", dependencies=(f"FU-{i - 1}",) if i else ()) for i in range(n)
    )
    return units, None


def chain_one_batch(n: int) -> tuple[tuple[FeatureUnit, ...], tuple[Batch, ...] | None]:
    units, _ = chain(n)
    return units, (Batch(batch_id=Decimal(0), feature_units=tuple(u.id for u in units)),)


def whole_batch_dependency(n: int) -> tuple[tuple[FeatureUnit, ...], tuple[Batch, ...] | None]:
    """Batch 1 depends on all of batch 0 (what `dependencies: [0]` becomes)."""
    units = tuple(FeatureUnit(id=f"FU-{i}") for i in range(n))
    first = tuple(u.id for u in units[: n // 2])
    second = tuple(u.id for u in units[n // 2 :])
    return units, (
        Batch(batch_id=Decimal(0), feature_units=first),
        Batch(batch_id=Decimal(1), feature_units=second, dependencies=first),
    )


def _calls(
    shape: Callable[[int], tuple[tuple[FeatureUnit, ...], tuple[Batch, ...] | None]], n: int
) -> int:
    units, given = shape(n)
    profile = cProfile.Profile()
    profile.enable()
    batches = given if given is not None else derive_batches(units)
    check_plan(_plan(units, batches), strict_batches=True)
    check_plan(_plan(units, batches), strict_batches=False)
    profile.disable()
    return sum(entry.callcount for entry in profile.getstats())


@pytest.mark.parametrize(
    ("shape", "n"), [(chain, 600), (chain_one_batch, 600), (whole_batch_dependency, 300)]
)
def test_doubling_the_plan_about_doubles_the_work(
    shape: Callable[[int], tuple[tuple[FeatureUnit, ...], tuple[Batch, ...] | None]], n: int
) -> None:
    small, large = _calls(shape, n), _calls(shape, 2 * n)
    assert large / small < 2.3, (small, large)


def test_a_long_chain_is_one_derived_batch_per_fu_and_no_finding() -> None:
    units, _ = chain(3000)
    batches = derive_batches(units)
    assert [b.feature_units for b in batches[:2]] == [("FU-0",), ("FU-1",)]
    assert len(batches) == 3000
    assert check_plan(_plan(units, batches), strict_batches=True) == []
