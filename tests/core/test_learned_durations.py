"""Learning durations from the release's own finished FUs (issue 12 §1): the fit, and when it
is used."""

from __future__ import annotations

import pytest

from orchestrator.core.learned_durations import Fit, fit, learned_hours, refit_due

ESTIMATES = {"A": 1.0, "B": 4.0, "C": 8.0, "X": 8.0, "Y": 1.0}


def test_agents_that_take_their_estimates_change_nothing() -> None:
    learned = learned_hours(ESTIMATES, {"A": 1.0, "B": 4.0, "C": 8.0})
    assert learned == ESTIMATES


def test_agents_that_take_the_same_time_whatever_the_estimate_make_every_fu_cost_that() -> None:
    learned = learned_hours(ESTIMATES, {"A": 0.5, "B": 0.5, "C": 0.5})
    assert learned is not None
    assert learned["X"] == learned["Y"] == 0.5


def test_a_fixed_cost_per_fu_and_a_rate_per_estimated_hour_are_both_learned() -> None:
    line = fit([(1.0, 0.75), (4.0, 1.5), (8.0, 2.5)])  # 0.5 h each + a quarter of the estimate
    assert line is not None
    assert line.fixed_h == pytest.approx(0.5)
    assert line.per_estimated_h == pytest.approx(0.25)


def test_finished_fus_keep_what_they_took() -> None:
    learned = learned_hours(ESTIMATES, {"A": 3.0, "B": 3.0, "C": 3.0})
    assert learned is not None
    assert learned["A"] == 3.0


def test_equal_estimates_learn_their_ratio() -> None:
    assert fit([(2.0, 1.0), (2.0, 1.0), (2.0, 3.0)]) == Fit(0.0, 0.5)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([(1.0, 4.0), (4.0, 2.0), (8.0, 0.0)], Fit(2.0, 0.0)),  # bigger went faster: the mean
        ([(1.0, 0.0), (2.0, 0.0), (8.0, 8.0)], Fit(0.0, 64 / 69)),  # fixed part < 0: through 0
    ],
)
def test_neither_part_of_the_line_is_negative(
    pairs: list[tuple[float, float]], expected: Fit
) -> None:
    line = fit(pairs)
    assert line is not None
    assert line.fixed_h == pytest.approx(expected.fixed_h)
    assert line.per_estimated_h == pytest.approx(expected.per_estimated_h)


def test_too_few_finished_fus_leave_the_estimates_alone() -> None:
    assert learned_hours(ESTIMATES, {"A": 5.0, "B": 5.0}) is None


@pytest.mark.parametrize(
    ("finished", "last", "due"),
    [(2, 0, False), (3, 0, True), (4, 3, True), (4, 4, False), (9, 8, False), (10, 8, True)],
)
def test_refits_grow_apart_as_the_release_goes_on(finished: int, last: int, due: bool) -> None:
    assert refit_due(finished, last) is due
