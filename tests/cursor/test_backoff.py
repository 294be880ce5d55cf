"""The pure retry policy, as tables: delays, jitter bounds, give-up rules, server hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.core.backoff import (
    BackoffPolicy,
    next_delay,
    parse_rate_limit_reset,
    parse_retry_after,
    server_delay_s,
)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
P = BackoffPolicy(
    max_attempts=5,
    initial_delay_s=1.0,
    multiplier=2.0,
    max_delay_s=5.0,
    max_total_s=60.0,
    jitter_ratio=0.5,
)


@pytest.mark.parametrize(
    ("attempt", "elapsed_s", "retry_after_s", "rand", "expected"),
    [
        (1, 0.0, None, 1.0, 1.0),  # first retry, no jitter taken off
        (2, 1.0, None, 1.0, 2.0),
        (3, 3.0, None, 1.0, 4.0),
        (4, 7.0, None, 1.0, 5.0),  # capped at max_delay_s
        (1, 0.0, None, 0.0, 0.5),  # full jitter takes off jitter_ratio of the step
        (2, 0.0, None, 0.5, 1.5),
        (1, 0.0, 9.0, 0.0, 9.0),  # Retry-After is a floor ...
        (3, 0.0, 0.1, 1.0, 4.0),  # ... never shortens the backoff
        (5, 0.0, None, 1.0, None),  # attempts used up
        (1, 59.5, None, 1.0, None),  # would overrun max_total_s
        (1, 0.0, 61.0, 1.0, None),  # server asks for longer than the budget
    ],
)
def test_next_delay_table(
    attempt: int,
    elapsed_s: float,
    retry_after_s: float | None,
    rand: float,
    expected: float | None,
) -> None:
    got = next_delay(attempt, elapsed_s=elapsed_s, retry_after_s=retry_after_s, policy=P, rand=rand)
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    elapsed_s=st.floats(min_value=0, max_value=1e6),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_next_delay_is_bounded_for_any_input(attempt: int, elapsed_s: float, rand: float) -> None:
    got = next_delay(attempt, elapsed_s=elapsed_s, retry_after_s=None, policy=P, rand=rand)
    if got is not None:
        assert 0.5 * min(P.max_delay_s, 2.0 ** (attempt - 1)) <= got <= P.max_delay_s
        assert elapsed_s + got <= P.max_total_s
        assert attempt < P.max_attempts


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        BackoffPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="jitter_ratio"):
        BackoffPolicy(jitter_ratio=1.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Fri, 02 Jan 2026 03:04:35 GMT", 30.0),
        ("Fri, 02 Jan 2026 03:00:00 GMT", 0.0),  # in the past: retry now
        ("Friday, 02-Jan-26 03:04:15 GMT", 10.0),  # RFC 850 form
        ("soon", None),
        ("", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_table(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12.0),  # seconds until reset
        (str(int((NOW + timedelta(seconds=45)).timestamp())), 45.0),  # epoch seconds
        ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0),
        ("later", None),
    ],
)
def test_parse_rate_limit_reset_table(value: str, expected: float | None) -> None:
    assert parse_rate_limit_reset(value, NOW) == expected


@pytest.mark.parametrize(
    ("retry_after", "reset", "expected"),
    [
        ("5", "99", 5.0),
        (None, "99", 99.0),
        ("garbage", "8", 8.0),
        (None, None, None),
    ],
)
def test_retry_after_wins_over_rate_limit_reset(
    retry_after: str | None, reset: str | None, expected: float | None
) -> None:
    assert server_delay_s(retry_after, reset, NOW) == expected
