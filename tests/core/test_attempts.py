from __future__ import annotations

import pytest

from orchestrator.core.attempts import Escalate, FailureKind, Retry, after_failure
from orchestrator.models.release import Priority, RetryPolicy

POLICY = RetryPolicy(backoff_initial_s=30, backoff_max_s=100, backoff_multiplier=2)


@pytest.mark.parametrize(
    ("priority", "attempt", "expected"),
    [
        (Priority.P0, 1, Retry(2, 30)),
        (Priority.P0, 2, Retry(3, 60)),
        (Priority.P0, 3, Retry(4, 100)),  # capped
        (Priority.P0, 4, None),  # 3 retries used
        (Priority.P1, 1, Retry(2, 30)),
        (Priority.P1, 2, None),
        (Priority.P2, 1, None),
        (Priority.P3, 1, None),
    ],
)
def test_seed_retry_budget_per_priority(
    priority: Priority, attempt: int, expected: Retry | None
) -> None:
    decision = after_failure(priority, attempt, FailureKind.RUN_ERROR, POLICY)
    if expected is None:
        assert isinstance(decision, Escalate)
        assert priority.value in decision.reason
    else:
        assert decision == expected


def test_fatal_api_error_escalates_even_with_retries_left() -> None:
    decision = after_failure(Priority.P0, 1, FailureKind.API_FATAL, POLICY)
    assert isinstance(decision, Escalate)


def test_retry_budget_is_configurable() -> None:
    policy = RetryPolicy(max_retries={Priority.P2: 2})
    assert isinstance(after_failure(Priority.P2, 2, FailureKind.STALE, policy), Retry)
    assert isinstance(after_failure(Priority.P0, 1, FailureKind.STALE, policy), Escalate)
