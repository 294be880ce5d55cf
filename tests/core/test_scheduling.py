from __future__ import annotations

import pytest

from orchestrator.core.scheduling import (
    Candidate,
    all_prerequisites,
    candidates,
    choose_grants,
    external_dependencies,
)
from tests.plans import fu, plan


def cand(fu_id: str, rank: int = 0, order: int = 0, pos: int = 0, high: bool = False) -> Candidate:
    return Candidate(fu_id, rank, order, pos, high)


@pytest.mark.parametrize(
    ("waiting", "running", "max_parallel", "max_high", "expected"),
    [
        # P0 before P1 regardless of arrival
        ([cand("b", rank=1), cand("a", rank=0)], [], 1, 1, ["a"]),
        # never above max_parallel
        ([cand("a"), cand("b", pos=1), cand("c", pos=2)], [cand("r")], 3, 1, ["a", "b"]),
        # high-risk limit: second high-risk waits, low-risk behind it still starts
        (
            [cand("h1", high=True), cand("h2", pos=1, high=True), cand("l", rank=2)],
            [],
            3,
            1,
            ["h1", "l"],
        ),
        # a running high-risk FU counts against the limit
        ([cand("h", high=True), cand("l", pos=1)], [cand("r", high=True)], 3, 1, ["l"]),
        # full: nothing
        ([cand("a")], [cand("x"), cand("y")], 2, 1, []),
        # schedule order breaks ties within a priority
        ([cand("late", order=3), cand("early", order=1)], [], 1, 1, ["early"]),
    ],
)
def test_grants_respect_priority_and_both_limits(
    waiting: list[Candidate],
    running: list[Candidate],
    max_parallel: int,
    max_high: int,
    expected: list[str],
) -> None:
    assert (
        choose_grants(waiting, running, max_parallel=max_parallel, max_high_risk=max_high)
        == expected
    )


def test_prerequisites_join_own_and_batch_dependencies_but_not_external_ones() -> None:
    p = plan(
        [fu("FU-1"), fu("FU-2", "FU-1", "FU-900"), fu("FU-3")],
        [("0", ["FU-1", "FU-3"]), ("0.5", ["FU-2"], ["FU-3", "FU-1"])],
    )
    assert all_prerequisites(p)["FU-2"] == ("FU-1", "FU-3")
    assert external_dependencies(p, "FU-2") == ("FU-900",)
    assert all_prerequisites(p)["FU-1"] == ()


def test_candidates_skip_deferred_and_rank_by_priority() -> None:
    p = plan(
        [fu("FU-1", priority="P1"), fu("FU-2", risk="high"), fu("FU-3")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3"])],
        deferred=["FU-3"],
    )
    found = candidates(p)
    assert set(found) == {"FU-1", "FU-2"}
    assert found["FU-2"].high_risk
    assert found["FU-1"].priority_rank == 1
