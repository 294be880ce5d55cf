"""Plan checks as tables: each plan shape gives exactly the findings a user should see."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orchestrator.core.plan_checks import check_plan, derive_batches
from orchestrator.models.release import Batch, FeatureUnit, Limits, ReleasePlan


def _plan(
    units: dict[str, list[str]],
    batches: list[tuple[str, list[str], list[str]]] | None,
    deferred: tuple[str, ...] = (),
    limits: Limits | None = None,
) -> ReleasePlan:
    fus = tuple(FeatureUnit(id=k, dependencies=tuple(v)) for k, v in units.items())
    if batches is None:
        made = derive_batches(fus, deferred)
    else:
        made = tuple(
            Batch(batch_id=Decimal(b), feature_units=tuple(f), dependencies=tuple(d))
            for b, f, d in batches
        )
    return ReleasePlan(
        release_id="v1",
        release_dir=".",
        limits=limits or Limits(),
        feature_units=fus,
        batches=made,
        deferred=deferred,
    )


CASES = [
    ("clean", {"A": [], "B": ["A"]}, [("0", ["A"], []), ("1", ["B"], ["A"])], (), False, set()),
    ("external dep", {"A": ["X"]}, [("0", ["A"], [])], (), False, {"w:external_dependency"}),
    ("same batch", {"A": [], "B": ["A"]}, [("0", ["A", "B"], [])], (), False,
     {"w:same_batch_dependency"}),
    ("later batch", {"A": ["B"], "B": []}, [("0", ["A"], []), ("1", ["B"], [])], (), False,
     {"w:later_batch_dependency"}),
    ("later batch strict", {"A": ["B"], "B": []}, [("0", ["A"], []), ("1", ["B"], [])], (), True,
     {"e:strict_batches_deadlock"}),
    ("batch dep later strict", {"A": [], "B": []}, [("0", ["A"], ["B"]), ("1", ["B"], [])], (),
     True, {"e:strict_batches_deadlock"}),
    ("unscheduled", {"A": [], "B": []}, [("0", ["A"], [])], (), False, {"w:unscheduled_fu"}),
    ("depends on unscheduled", {"A": ["B"], "B": []}, [("0", ["A"], [])], (), False,
     {"w:unscheduled_fu", "e:depends_on_unscheduled"}),
    ("unknown scheduled", {"A": []}, [("0", ["A", "Z"], [])], (), False,
     {"e:unknown_scheduled_fu"}),
    ("deferred scheduled", {"A": []}, [("0", ["A", "D"], [])], ("D",), False,
     {"w:deferred_scheduled"}),
    ("depends on deferred", {"A": ["D"]}, [("0", ["A"], [])], ("D",), False,
     {"e:depends_on_deferred"}),
    ("two batches", {"A": []}, [("0", ["A"], []), ("1", ["A"], [])], (), False,
     {"e:fu_in_two_batches"}),
    ("duplicate batch", {"A": [], "B": []}, [("0", ["A"], []), ("0", ["B"], [])], (), False,
     {"e:duplicate_batch"}),
    ("cycle", {"A": ["B"], "B": ["A"]}, [("0", ["A", "B"], [])], (), False,
     {"e:dependency_cycle", "w:same_batch_dependency"}),
    ("self dep", {"A": ["A"]}, [("0", ["A"], [])], (), False, {"e:self_dependency"}),
    ("cycle via batch deps", {"A": [], "B": []}, [("0", ["A"], ["B"]), ("1", ["B"], ["A"])], (),
     False, {"w:later_batch_dependency", "e:deadlock"}),
    ("no units", {}, [], (), False, {"e:no_feature_units"}),
    ("derived", {"A": [], "B": ["A"], "C": ["A", "B"]}, None, (), True, set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "units", "batches", "deferred", "strict_batches", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_plan_findings(
    case: str,
    units: dict[str, list[str]],
    batches: list[tuple[str, list[str], list[str]]] | None,
    deferred: tuple[str, ...],
    strict_batches: bool,
    expected: set[str],
) -> None:
    findings = check_plan(_plan(units, batches, deferred), strict_batches=strict_batches)
    assert {f"{f.severity[0]}:{f.code}" for f in findings} == expected


def test_cycle_message_prints_the_cycle() -> None:
    plan = _plan({"A": ["B"], "B": ["C"], "C": ["A"]}, [("0", ["A", "B", "C"], [])])
    cycle = [f for f in check_plan(plan) if f.code == "dependency_cycle"]
    assert [f.problem for f in cycle] == ["dependency cycle: A → B → C → A"]


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        (Limits(max_parallel_fus=0), "execution_strategy.max_parallel_fus"),
        (Limits(max_high_risk_in_parallel=0), "execution_strategy.max_high_risk_in_parallel"),
        (Limits(poll_interval_s=0), "execution_strategy.poll_interval_s"),
    ],
)
def test_limits_below_one_are_errors(limits: Limits, field: str) -> None:
    findings = check_plan(_plan({"A": []}, [("0", ["A"], [])], limits=limits))
    assert [(f.severity, f.field) for f in findings] == [("error", field)]


@pytest.mark.parametrize(
    ("units", "layers"),
    [
        ({"A": [], "B": []}, [["A", "B"]]),
        ({"A": [], "B": ["A"], "C": ["B"], "D": ["A"]}, [["A"], ["B", "D"], ["C"]]),
        ({"A": ["X"], "B": ["A"]}, [["A"], ["B"]]),
        ({"A": ["B"], "B": ["A"], "C": []}, [["C"]]),
    ],
)
def test_derived_batches_are_topological_layers(
    units: dict[str, list[str]], layers: list[list[str]]
) -> None:
    batches = derive_batches([FeatureUnit(id=k, dependencies=tuple(v)) for k, v in units.items()])
    assert [list(b.feature_units) for b in batches] == layers
    assert [b.batch_id for b in batches] == [Decimal(i) for i in range(len(layers))]


def test_a_checkpoint_that_holds_a_dependency_is_a_deadlock() -> None:
    from orchestrator.models.release import Checkpoint

    plan = _plan(
        {"A": ["C"], "B": [], "C": []},
        [("0", ["A"], []), ("0.5", ["B"], []), ("1", ["C"], [])],
    )
    held = plan.model_copy(
        update={"checkpoints": (Checkpoint(name="review", after_batch=Decimal("0.5")),)}
    )
    found = [f for f in check_plan(held) if f.code == "checkpoint_deadlock"]
    assert [f.render() for f in found] == [
        "checkpoints.checkpoint_review_after_batch: A (batch 0) waits for C (its own dependency)"
        " in batch 1, which this checkpoint holds until batch 0.5 completes: deadlock"
        " (move the checkpoint after batch 1, or A to a later batch)"
    ]
    after = plan.model_copy(
        update={"checkpoints": (Checkpoint(name="review", after_batch=Decimal(1)),)}
    )
    assert not [f for f in check_plan(after) if f.code == "checkpoint_deadlock"]
