"""Retry policy for FU attempts, pure: retry after a delay, or escalate to a human."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.models.release import Priority, RetryPolicy


class FailureKind(StrEnum):
    """Why an attempt failed; some kinds are never worth retrying."""

    RUN_ERROR = "run_error"
    RUN_EXPIRED = "run_expired"
    RUN_CANCELLED = "run_cancelled"
    TIMEOUT = "timeout"
    STALE = "stale"
    API_TRANSIENT = "api_transient"
    API_FATAL = "api_fatal"
    CAPACITY = "capacity"  # the account's active-agent cap: wait, never a spent retry
    NO_BRANCH = "no_branch"  # the run finished without pushing a branch with new commits


@dataclass(frozen=True)
class Retry:
    next_attempt: int
    delay_s: float


@dataclass(frozen=True)
class Escalate:
    reason: str


def after_failure(
    priority: Priority, attempt: int, kind: FailureKind, policy: RetryPolicy
) -> Retry | Escalate:
    """Decide what follows failed attempt number `attempt` (1-based)."""
    if kind is FailureKind.API_FATAL:
        return Escalate("the API refused the request; retrying cannot help")
    allowed = policy.retries_for(priority)
    retries_used = attempt - 1
    if retries_used >= allowed:
        return Escalate(
            f"{priority.value} allows {allowed} retr{'y' if allowed == 1 else 'ies'}; "
            f"{attempt} attempt{'s' if attempt != 1 else ''} failed"
        )
    delay = policy.backoff_initial_s * policy.backoff_multiplier ** (attempt - 1)
    return Retry(next_attempt=attempt + 1, delay_s=min(delay, policy.backoff_max_s))
