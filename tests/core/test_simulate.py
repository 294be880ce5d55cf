"""The schedule simulator and the slot policy it shares with the engine (issue 12 §1).

Goals from the issue, on the prediction: orchd/bound ≤ 1.10 on neotoma's v0.1.0 and ≤ 1.05 on
v0.2.0. The simulator reproduces what issue 12 measured on the engine before the change (v0.1.0:
10.0 days with checkpoints holding later batches and first-come slots), so it models the engine.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.adapters.release_loader import load_release
from orchestrator.core.estimates import plan_durations_h
from orchestrator.core.scheduling import candidates, tails_h
from orchestrator.core.simulate import Limits, compare, critical_path, simulate
from tests.plans import fu, plan

NEOTOMA = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "neotoma"


def _limits(p: object) -> Limits:
    from orchestrator.models.release import ReleasePlan

    assert isinstance(p, ReleasePlan)
    return Limits(p.limits.max_parallel_fus, p.limits.max_high_risk_in_parallel)


def test_v0_1_0_is_predicted_within_ten_percent_of_its_lower_bound() -> None:
    p = load_release("v0.1.0", repo_root=NEOTOMA / "head")
    result = compare(p, plan_durations_h(p), _limits(p))
    assert result.sequential_h / 8 == 21.0
    assert result.lower_bound_h / 8 == 7.0  # 21 days of work over 3 slots
    assert result.predicted.makespan_h / result.lower_bound_h <= 1.10
    assert result.strict_barrier_h is None  # batch 0.8's FU-059 waits on batch 3's FU-103


def test_v0_2_0_is_predicted_within_five_percent_of_its_lower_bound() -> None:
    p = load_release("v0.2.0", repo_root=NEOTOMA / "2a9e9b0")
    result = compare(p, plan_durations_h(p), _limits(p))
    assert result.lower_bound_h == 21.75
    assert result.predicted.makespan_h / result.lower_bound_h <= 1.05
    assert result.strict_barrier_h == 25.5
    assert result.critical_path == ("FU-110", "FU-111", "FU-114", "FU-121", "FU-122")


def test_the_old_policy_reproduces_what_issue_12_measured_on_v0_1_0() -> None:
    """First-come slots (no durations) and checkpoints that hold later batches until their
    batch lands: 10 days, as measured (10.04) — the simulator models the engine."""
    p = load_release("v0.1.0", repo_root=NEOTOMA / "head")
    held = Limits(3, 1, checkpoint_wait_h=0.0)
    old = simulate(p, plan_durations_h(p), held, cands=candidates(p))
    assert old.makespan_h / 8 == 10.0


def test_a_later_batchs_dependant_waits_for_the_whole_batch_to_land() -> None:
    p = plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3"])],
    )
    bars = {b.fu_id: b for b in simulate(p, {"FU-1": 1, "FU-2": 5, "FU-3": 1}, Limits(3, 1)).bars}
    assert bars["FU-3"].start_h == 5.0  # FU-1 was done at 1, its batch landed at 5


def test_a_same_batch_dependant_starts_when_its_dependency_is_done() -> None:
    p = plan([fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1")], [("0", ["FU-1", "FU-2", "FU-3"])])
    bars = {b.fu_id: b for b in simulate(p, {"FU-1": 1, "FU-2": 5, "FU-3": 1}, Limits(3, 1)).bars}
    assert bars["FU-3"].start_h == 1.0


def test_the_high_risk_limit_holds_in_the_prediction() -> None:
    p = plan([fu("FU-1", risk="high"), fu("FU-2", risk="high")], [("0", ["FU-1", "FU-2"])])
    result = simulate(p, {"FU-1": 2, "FU-2": 2}, Limits(2, 1))
    assert result.makespan_h == 4.0


def test_a_checkpoint_holds_later_batches_only_when_waited_on() -> None:
    from decimal import Decimal

    from orchestrator.models.release import Checkpoint

    base = plan([fu("FU-1"), fu("FU-2")], [("0", ["FU-1"]), ("1", ["FU-2"])])
    p = base.model_copy(update={"checkpoints": (Checkpoint(name="1", after_batch=Decimal("0")),)})
    durations = {"FU-1": 3.0, "FU-2": 1.0}
    assert simulate(p, durations, Limits(2, 1)).makespan_h == 3.0  # continue: no hold
    waited = simulate(p, durations, Limits(2, 1, checkpoint_wait_h=2.0))
    assert waited.makespan_h == 6.0  # lands at 3, answered at 5, FU-2 runs 5..6


def test_a_batch_mate_of_a_long_chain_shares_its_tail() -> None:
    """FU-2 is short, but the long FU-3 in the next batch waits for FU-2's batch to land."""
    p = plan(
        [fu("FU-1"), fu("FU-2"), fu("FU-3", "FU-1"), fu("FU-4")],
        [("0", ["FU-1", "FU-2"]), ("1", ["FU-3", "FU-4"])],
    )
    tails = tails_h(p, {"FU-1": 1, "FU-2": 1, "FU-3": 10, "FU-4": 2})
    assert tails == {"FU-1": 11.0, "FU-2": 11.0, "FU-3": 10.0, "FU-4": 2.0}


def test_the_longest_tail_gets_the_slot_among_equal_priorities() -> None:
    p = plan([fu("FU-A"), fu("FU-B"), fu("FU-C", "FU-B")], [("0", ["FU-A", "FU-B", "FU-C"])])
    durations = {"FU-A": 4.0, "FU-B": 1.0, "FU-C": 4.0}
    bars = {b.fu_id: b for b in simulate(p, durations, Limits(1, 1)).bars}
    assert bars["FU-B"].start_h == 0.0  # B unlocks C: 1 + 4 beats A's 4
    ranked = sorted(candidates(p, durations).values(), key=lambda c: c.sort_key)
    assert [c.fu_id for c in ranked] == ["FU-B", "FU-A", "FU-C"]


def test_priority_still_comes_first() -> None:
    p = plan([fu("FU-A", priority="P1"), fu("FU-B", priority="P0")], [("0", ["FU-A", "FU-B"])])
    ranked = sorted(candidates(p, {"FU-A": 9.0, "FU-B": 1.0}).values(), key=lambda c: c.sort_key)
    assert [c.fu_id for c in ranked] == ["FU-B", "FU-A"]


def test_critical_path_follows_the_longest_chain() -> None:
    p = plan(
        [fu("FU-1"), fu("FU-2", "FU-1"), fu("FU-3", "FU-1")],
        [("0", ["FU-1"]), ("1", ["FU-2", "FU-3"])],
    )
    assert critical_path(p, {"FU-1": 1, "FU-2": 5, "FU-3": 2}) == (6.0, ("FU-1", "FU-2"))
