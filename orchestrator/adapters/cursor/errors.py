"""Cursor API failures as a small exception tree keyed by the spec's `error.code`.

Callers branch on the class (or `retryable`), never on message text. No exception here ever holds
request headers, and messages pass through `redact()` so an echoed API key cannot leak.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar

from orchestrator.errors import ExitCode, OrchdError

REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in `text`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class CursorError(OrchdError):
    """Any failure talking to Cursor. `code` is the spec's error code (or a local one)."""

    exit_code = ExitCode.RELEASE_FAILED
    retryable: ClassVar[bool] = False
    default_code: ClassVar[str] = "cursor_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        method: str | None = None,
        path: str | None = None,
        retry_after_s: float | None = None,
        help_url: str | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message
        self.status = status
        self.method = method
        self.path = path
        self.retry_after_s = retry_after_s
        self.help_url = help_url
        # Which attempt of the call failed (set by the client); >1 means earlier tries were lost.
        self.attempt = 1
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f" {self.status}" if self.status is not None else ""
        return f"{where}Cursor{status} {self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"message={self.message!r}, method={self.method!r}, path={self.path!r})"
        )


class Unauthorized(CursorError):
    """401: the key is missing or wrong. Fails the whole start, not one FU."""

    exit_code = ExitCode.BAD_INPUT
    default_code = "unauthorized"


class Forbidden(CursorError):
    default_code = "role_forbidden"


class PlanRequired(Forbidden):
    default_code = "plan_required"


class FeatureUnavailable(Forbidden):
    """403 feature_unavailable: early-access endpoints (usage) report 'unknown', not failure."""

    default_code = "feature_unavailable"


class RepositoryAccess(Forbidden):
    default_code = "repository_access"


class NotFound(CursorError):
    default_code = "agent_not_found"


class ValidationError(CursorError):
    """400: the request was rejected as malformed; the message names the field."""

    default_code = "validation_error"


class Conflict(CursorError):
    default_code = "conflict"


class AgentIdConflict(Conflict):
    """409 on create: an agent with this agentId exists, i.e. it was already launched."""

    default_code = "agent_id_conflict"


class ForeignAgent(CursorError):
    """409 on create, and the agent with our id is not ours (another repo, name or run): never
    adopted, never retried."""

    default_code = "foreign_agent"


class AgentBusy(Conflict):
    default_code = "agent_busy"


class AgentArchived(Conflict):
    default_code = "agent_archived"


class RunNotCancellable(Conflict):
    default_code = "run_not_cancellable"


class StreamExpired(CursorError):
    """410: the run's stream is past retention; the caller falls back to polling the run."""

    default_code = "stream_expired"


class RateLimited(CursorError):
    retryable = True
    default_code = "rate_limit_exceeded"


class AgentCapacity(CursorError):
    """The account's cap on concurrently active agents (undocumented: a 403, 409, 422 or 429
    whose code or message speaks of an agent limit). Back-pressure, not a failure: the engine
    waits for one of its agents to free a slot instead of retrying or escalating."""

    default_code = "agent_limit_exceeded"


class UsageLimitExceeded(RateLimited):
    """429 usage_limit_exceeded: an account quota; waiting seconds will not help, so no retry."""

    retryable = False
    default_code = "usage_limit_exceeded"


class ServerError(CursorError):
    """5xx (internal_error, upstream_error, stream_unavailable): Cursor's side, worth retrying."""

    retryable = True
    default_code = "internal_error"


class NotImplementedByServer(CursorError):
    default_code = "not_implemented"


class TransportError(CursorError):
    """Connect error, timeout or dropped connection: no HTTP answer at all. Retryable."""

    retryable = True
    default_code = "transport_error"


class StreamsExhausted(TransportError):
    """No stream could be opened: every stream slot is taken, or the process is out of file
    descriptors (EMFILE/ENFILE). Back-pressure, not a failure: the run is polled meanwhile."""

    default_code = "streams_exhausted"


class ProtocolError(CursorError):
    """A 2xx (or error) body that is not what the spec says: not JSON, missing fields, bad enum."""

    default_code = "protocol_error"


_BY_CODE: dict[str, type[CursorError]] = {
    "unauthorized": Unauthorized,
    "api_key_not_found": Unauthorized,
    "plan_required": PlanRequired,
    "role_forbidden": Forbidden,
    "feature_unavailable": FeatureUnavailable,
    "integration_not_connected": Forbidden,
    "repository_access": RepositoryAccess,
    "service_account_required": Forbidden,
    "validation_error": ValidationError,
    "missing_body": ValidationError,
    "invalid_model": ValidationError,
    "invalid_branch_name": ValidationError,
    "repository_required": ValidationError,
    "pr_resolution_failed": ValidationError,
    "invalid_last_event_id": ValidationError,
    "artifact_not_found": NotFound,
    "agent_not_found": NotFound,
    "run_not_found": NotFound,
    "agent_busy": AgentBusy,
    "agent_archived": AgentArchived,
    "agent_id_conflict": AgentIdConflict,
    "run_not_cancellable": RunNotCancellable,
    "rate_limit_exceeded": RateLimited,
    "usage_limit_exceeded": UsageLimitExceeded,
    "stream_expired": StreamExpired,
    "stream_unavailable": ServerError,
    "internal_error": ServerError,
    "upstream_error": ServerError,
    "not_implemented": NotImplementedByServer,
    "client_cancelled": TransportError,
}

_BY_STATUS: dict[int, type[CursorError]] = {
    400: ValidationError,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: StreamExpired,
    429: RateLimited,
    501: NotImplementedByServer,
}


_CAPACITY_CODES = frozenset(
    {
        "agent_limit_exceeded",
        "agent_limit_reached",
        "too_many_agents",
        "max_agents_exceeded",
        "concurrency_limit_exceeded",
        "active_agent_limit",
    }
)
_LIMIT_WORDS = re.compile(r"\b(limit|maximum|max|at most|too many|capacity|concurrent\w*)\b", re.I)
_AGENT_WORD = re.compile(r"\bagents?\b", re.I)


def speaks_of_agent_limit(status: int, code: str | None, message: str | None) -> bool:
    """How orchd recognises the active-agent cap, whose answer Cursor does not document."""
    if status not in {403, 409, 422, 429}:
        return False
    if code in _CAPACITY_CODES:
        return True
    text = message or ""
    return bool(_LIMIT_WORDS.search(text) and _AGENT_WORD.search(text))


def class_for(status: int, code: str | None) -> type[CursorError]:
    """The exception class for a response: by `error.code` when known, else by HTTP status."""
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return CursorError


def parse_error_body(body: bytes | str) -> tuple[str | None, str | None, str | None]:
    """(code, message, help_url) from a nested `{"error": {...}}` or flat `{"error", "message"}`."""
    try:
        doc: Any = json.loads(body) if body else None
    except ValueError:
        return None, None, None
    if not isinstance(doc, dict):
        return None, None, None
    err = doc.get("error")
    if isinstance(err, dict):
        code, message, help_url = err.get("code"), err.get("message"), err.get("helpUrl")
    else:
        code, message, help_url = err, doc.get("message"), doc.get("helpUrl")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
        help_url if isinstance(help_url, str) else None,
    )


def error_from_response(
    status: int,
    body: bytes | str,
    *,
    method: str | None = None,
    path: str | None = None,
    retry_after_s: float | None = None,
    secrets: Iterable[str] = (),
) -> CursorError:
    """Build the right CursorError for a non-2xx response, keeping the server's message."""
    code, message, help_url = parse_error_body(body)
    if message is None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = text.strip()[:200] or f"HTTP {status} with no error body"
    cls = class_for(status, code)
    if speaks_of_agent_limit(status, code, message):
        cls = AgentCapacity
    return cls(
        redact(message, list(secrets)),
        code=code,
        status=status,
        method=method,
        path=path,
        retry_after_s=retry_after_s,
        help_url=help_url,
    )
