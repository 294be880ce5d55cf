"""Command-line overrides are checked like the manifest's values: a bad one is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.engine.configure import Overrides, engine_settings
from orchestrator.errors import InputError
from tests.plans import fu, plan


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        (Overrides(poll_interval_s=0), "--poll-interval must be a positive number, got 0"),
        (Overrides(stale_after_minutes=-5), "--stale-after must be a positive number, got -5"),
        (Overrides(max_duration_minutes=float("nan")), "--max-duration must be a positive"),
        (Overrides(retry_backoff_s=-1), "--retry-backoff must be a positive number, got -1"),
        (Overrides(decision_deadline_minutes=-1), "--decision-deadline must be 0 (no limit)"),
    ],
)
def test_a_negative_or_zero_duration_on_the_command_line_is_refused(
    overrides: Overrides, problem: str
) -> None:
    p = plan([fu("FU-1")], [("0", ["FU-1"])])
    with pytest.raises(InputError) as caught:
        engine_settings(
            p,
            overrides,
            repo_url="file:///r.git",
            release_branch="main",
            prompt_template="$fu_id",
            env={},
            repo_root=Path("."),
        )
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
