"""HTTP retry timing, pure: capped exponential backoff with jitter, honouring server hints.

Bounded two ways (as stamina does): by attempts and by total elapsed time, so a flapping API
can never hold a FU task forever. Times are seconds; `now` and randomness are arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Values of X-RateLimit-Reset above this are epoch seconds, below it "seconds from now".
_EPOCH_THRESHOLD_S = 1_000_000_000


@dataclass(frozen=True)
class BackoffPolicy:
    """How patiently to retry one HTTP call. `max_attempts` counts the first try."""

    max_attempts: int = 6
    initial_delay_s: float = 0.5
    multiplier: float = 2.0
    max_delay_s: float = 30.0
    max_total_s: float = 180.0
    jitter_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0.0 <= self.jitter_ratio <= 1.0:
            raise ValueError("jitter_ratio must be within [0, 1]")
        if self.initial_delay_s < 0 or self.max_delay_s < 0 or self.max_total_s < 0:
            raise ValueError("delays must be >= 0")


def next_delay(
    attempt: int,
    *,
    elapsed_s: float,
    retry_after_s: float | None,
    policy: BackoffPolicy,
    rand: float,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None to give up.

    `attempt` is the 1-based number of the attempt that just failed, `elapsed_s` the time since
    the first attempt started, `rand` a uniform number in [0, 1). The jittered delay lies in
    `[base * (1 - jitter_ratio), base]`; a server's Retry-After is a floor, never shortened.
    Gives up when attempts are used up or waiting would overrun `max_total_s`.
    """
    if attempt >= policy.max_attempts:
        return None
    exponent = max(attempt - 1, 0)
    try:
        base = policy.initial_delay_s * policy.multiplier**exponent
    except OverflowError:
        base = math.inf
    base = min(base, policy.max_delay_s)
    delay = base * (1.0 - policy.jitter_ratio * (1.0 - min(max(rand, 0.0), 1.0)))
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    if elapsed_s + delay > policy.max_total_s:
        return None
    return delay


def _as_aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_retry_after(value: str, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date; None if unreadable."""
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max((_as_aware(when) - _as_aware(now)).total_seconds(), 0.0)


def parse_rate_limit_reset(value: str, now: datetime) -> float | None:
    """`X-RateLimit-Reset` as seconds from `now`: epoch seconds, delta seconds or an HTTP date."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return parse_retry_after(text, now)
    if not math.isfinite(number):
        return None
    if number >= _EPOCH_THRESHOLD_S:
        return max(number - _as_aware(now).timestamp(), 0.0)
    return max(number, 0.0)


def server_delay_s(
    retry_after: str | None, rate_limit_reset: str | None, now: datetime
) -> float | None:
    """The wait a 429/503 asks for: Retry-After wins, X-RateLimit-Reset is the fallback."""
    if retry_after is not None:
        parsed = parse_retry_after(retry_after, now)
        if parsed is not None:
            return parsed
    if rate_limit_reset is not None:
        return parse_rate_limit_reset(rate_limit_reset, now)
    return None
