"""The error the fake answers with, in the spec's `{"error": {"code", "message"}}` envelope."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP error response the fake sends: status, `error.code` and `error.message`."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def validation_error(field: str, problem: str) -> ApiError:
    """400 `validation_error` whose message starts with the offending field's path."""
    return ApiError(400, "validation_error", f"{field}: {problem}")


class AgentCapRefused(ApiError):
    """A launch or unarchive refused by the account's active-agent cap (scenario.py)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str], fu_id: str | None
    ) -> None:
        super().__init__(status, code, message, headers)
        self.fu_id = fu_id
