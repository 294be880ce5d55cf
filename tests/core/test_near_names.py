"""Which known key a mistyped one meant, and which names are plainly other keys."""

from __future__ import annotations

import pytest

from orchestrator.core.near_names import by_closeness, closest_name, did_you_mean

FU_KEYS = {
    "id",
    "name",
    "priority",
    "dependencies",
    "risk_level",
    "risk",
    "notes",
    "description",
    "max_duration_minutes",
    "model",
}
TOP_KEYS = {
    "release",
    "execution_strategy",
    "execution_limits",
    "feature_units",
    "execution_schedule",
    "checkpoints",
}


@pytest.mark.parametrize(
    ("typed", "known", "meant"),
    [
        ("depends_on", FU_KEYS, "dependencies"),  # docker compose's word
        ("dependences", FU_KEYS, "dependencies"),  # one letter missing
        ("dependency", FU_KEYS, "dependencies"),  # singular
        ("Dependencies", FU_KEYS, "dependencies"),  # case
        ("risk-level", FU_KEYS, "risk_level"),  # `-` for `_`
        ("riskLevel", FU_KEYS, "risk_level"),  # camelCase
        ("nmae", FU_KEYS, "name"),  # two letters swapped
        ("prority", FU_KEYS, "priority"),
        ("max_duration_mins", FU_KEYS, "max_duration_minutes"),
        ("checkpoint", TOP_KEYS, "checkpoints"),  # plural
        ("feature_unit", TOP_KEYS, "feature_units"),
        ("exection_strategy", TOP_KEYS, "execution_strategy"),
        ("strategy", TOP_KEYS, "execution_strategy"),
        ("relase", TOP_KEYS, "release"),
    ],
)
def test_a_typo_of_a_known_key_names_that_key(typed: str, known: set[str], meant: str) -> None:
    assert closest_name(typed, known) == meant


@pytest.mark.parametrize(
    ("typed", "known"),
    [
        # keys real neotoma manifests carry beside the ones orchd reads
        ("complexity", FU_KEYS),
        ("status", FU_KEYS),
        ("phase", FU_KEYS),
        ("type", {"id", "name", "status"}),
        ("owner", {"id", "name", "status"}),
        ("priority", {"id", "name", "status"}),
        ("target_date", {"id", "name", "status"}),
        ("optional", {"batch_id", "feature_units", "dependencies", "title", "name"}),
        ("acceptance_criteria", TOP_KEYS),
        ("pre_mortem", TOP_KEYS),
        ("risks", TOP_KEYS),
        ("notes", TOP_KEYS),
        ("scope", TOP_KEYS),
        ("deployment", TOP_KEYS),
        ("ids", {"id"}),  # three letters: no room for a typo
    ],
)
def test_an_unrelated_key_is_not_taken_for_a_typo(typed: str, known: set[str]) -> None:
    assert closest_name(typed, known) is None


def test_the_fix_lists_every_known_name_when_none_is_close() -> None:
    assert did_you_mean("max_paralel_fus", {"max_parallel_fus", "sequential"}) == (
        "did you mean `max_parallel_fus`?"
    )
    assert did_you_mean("wat", ("b", "a"), noun="use one of") == "use one of: a, b"


def test_names_are_ordered_closest_first() -> None:
    names = ["v0.2.0", "v0.1.0", "v1.0.0", "v0.1.1"]
    assert by_closeness("v0.1.O", names) == ["v0.1.0", "v0.1.1", "v0.2.0", "v1.0.0"]
