"""Limits no run could honour are refused, each naming its key as written and its line.

Issue 9: `gate_timeout_s: -1` (and other negative or zero durations) validated, and orchd then
killed every test at once, or polled in a busy loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.adapters.release_loader import load_release
from orchestrator.errors import ValidationFailed

UNITS = "feature_units:\n  - id: FU-1\n"


def _errors(tmp_path: Path, manifest: str) -> list[str]:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v9.0.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(manifest)
    with pytest.raises(ValidationFailed) as info:
        load_release("v9.0.0", repo_root=tmp_path)
    return [e.render().split("v9.0.0/", 1)[1] for e in info.value.errors]


def _strategy(line: str) -> str:
    return "release:\n  id: v9.0.0\nexecution_strategy:\n  type: multi_agent\n" + line + UNITS


CASES = [
    ("  gate_timeout_s: -1\n", "manifest.yaml:5:19: execution_strategy.gate_timeout_s: "
     "must be above 0, got -1 (use a positive number)"),
    ("  gate_timeout_s: 0\n", "manifest.yaml:5:19: execution_strategy.gate_timeout_s: "
     "must be above 0, got 0 (use a positive number)"),
    ("  poll_interval_s: -5\n", "manifest.yaml:5:20: execution_strategy.poll_interval_s: "
     "must be above 0, got -5"),
    ("  poll_interval_s: .inf\n", "manifest.yaml:5:20: execution_strategy.poll_interval_s: "
     "must be a finite number, got inf"),
    ("  stale_after_minutes: -1\n", "manifest.yaml:5:24: execution_strategy.stale_after_minutes: "
     "must be above 0, got -1"),
    ("  max_duration_minutes: 0\n", "manifest.yaml:5:25: "
     "execution_strategy.max_duration_minutes: must be above 0, got 0"),
    ("  cancel_grace_s: -0.5\n", "manifest.yaml:5:19: execution_strategy.cancel_grace_s: "
     "must be above 0, got -0.5"),
    ("  decision_deadline_minutes: -1\n", "manifest.yaml:5:30: "
     "execution_strategy.decision_deadline_minutes: must be 0 or more, got -1 "
     "(use 0 for no deadline)"),
    ("  max_conflict_rounds: -1\n", "manifest.yaml:5:24: execution_strategy.max_conflict_rounds: "
     "must be 0 or more, got -1 (use 0 to hand the first conflict to a human)"),
    ("  max_parallel_fus: 0\n", "manifest.yaml:5:21: execution_strategy.max_parallel_fus: "
     "must be at least 1, got 0 (use 1 or more)"),
    ("  max_high_risk_in_parallel: -2\n", "manifest.yaml:5:30: "
     "execution_strategy.max_high_risk_in_parallel: must be at least 1, got -2"),
    ("  retry:\n    backoff_initial_s: -1\n", "manifest.yaml:6:24: "
     "execution_strategy.retry.backoff_initial_s: must be above 0, got -1 "
     "(use seconds, e.g. 30)"),
    ("  retry:\n    backoff_initial_s: 0\n", "manifest.yaml:6:24: "
     "execution_strategy.retry.backoff_initial_s: must be above 0, got 0"),
    ("  retry:\n    backoff_max_s: -1\n", "manifest.yaml:6:20: "
     "execution_strategy.retry.backoff_max_s: must be above 0, got -1"),
    ("  retry:\n    backoff_multiplier: 0.5\n", "manifest.yaml:6:25: "
     "execution_strategy.retry.backoff_multiplier: must be at least 1, got 0.5"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0].strip() for c in CASES])
def test_a_limit_no_run_could_honour_is_one_located_error(
    tmp_path: Path, line: str, expected: str
) -> None:
    errors = _errors(tmp_path, _strategy(line))
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors[0]


def test_a_limit_under_execution_limits_is_named_as_written(tmp_path: Path) -> None:
    """neotoma's older manifests (148e1fa, 2c1b61e) put limits under `execution_limits:`."""
    manifest = (
        "release:\n  id: v9.0.0\nexecution_limits:\n  max_parallel_fus: 2\n"
        "  gate_timeout_s: -1\n  retry:\n    backoff_initial_s: -3\n"
        "execution_strategy:\n  type: multi_agent\n" + UNITS
    )
    assert _errors(tmp_path, manifest) == [
        "manifest.yaml:5:19: execution_limits.gate_timeout_s: must be above 0, got -1 "
        "(use a positive number)",
        "manifest.yaml:7:24: execution_limits.retry.backoff_initial_s: must be above 0, got -3 "
        "(use seconds, e.g. 30)",
    ]


def test_an_fus_own_duration_must_be_positive(tmp_path: Path) -> None:
    manifest = _strategy("") + "    max_duration_minutes: -10\n"
    assert _errors(tmp_path, manifest) == [
        "manifest.yaml:6:5: feature_units[FU-1].max_duration_minutes: must be a positive "
        "number, got -10 (use a positive number of minutes)"
    ]


def test_zero_deadline_and_zero_conflict_rounds_are_allowed(tmp_path: Path) -> None:
    folder = tmp_path / "docs" / "releases" / "in_progress" / "v9.0.0"
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(
        _strategy("  decision_deadline_minutes: 0\n  max_conflict_rounds: 0\n")
    )
    limits = load_release("v9.0.0", repo_root=tmp_path).limits
    assert (limits.decision_deadline_minutes, limits.max_conflict_rounds) == (0, 0)
