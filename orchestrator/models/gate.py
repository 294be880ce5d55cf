"""Batch gate: the integration-test steps run after a batch, and their results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class GateTestStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ERROR = "error"  # could not start (command not found, bad workdir)
    NOT_RUN = "not_run"  # no command: shown, never silently passed


@dataclass(frozen=True)
class GateStep:
    """One command to run: an IT test, or the release-wide gate command."""

    test_id: str
    name: str
    command: str | None
    shell: bool = False


@dataclass(frozen=True)
class GateTestResult:
    test_id: str
    status: GateTestStatus
    duration_s: float = 0.0
    exit_code: int | None = None
    log: str | None = None
    detail: str = ""
