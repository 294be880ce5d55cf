"""Exception tree and the exit codes the CLI maps them to (documented in README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RELEASE_FAILED = 1
    BAD_INPUT = 2
    ABORTED = 3
    STATUS_NOT_WRITTEN = 4
    DETACHED = 5  # `orchd detach` / SIGUSR1: agents left running, the next start adopts them
    INTERNAL = 70


class OrchdError(Exception):
    """Base of every error orchd expects and reports in one line."""

    exit_code: ExitCode = ExitCode.INTERNAL


class InputError(OrchdError):
    """Bad user input: release files, flags, environment. Exit 2, nothing written."""

    exit_code = ExitCode.BAD_INPUT


class LocatedError(InputError):
    """An input error pinned to file:line:col and a field."""

    def __init__(
        self,
        file: str,
        line: int | None,
        col: int | None,
        field: str,
        problem: str,
        fix: str = "",
    ) -> None:
        self.file = file
        self.line = line
        self.col = col
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        text = f"{where}: {self.field}: {self.problem}"
        if self.fix:
            text += f" ({self.fix})"
        return text


class ValidationFailed(InputError):
    """Several located errors found at once; all are reported, one per line."""

    def __init__(self, errors: list[LocatedError]) -> None:
        self.errors = errors
        super().__init__("\n".join(e.render() for e in errors))


class ReleaseFailed(OrchdError):
    exit_code = ExitCode.RELEASE_FAILED


class ReleaseAborted(OrchdError):
    exit_code = ExitCode.ABORTED


class StatusWriteFailed(OrchdError):
    """The status file could not be written (disk full, read-only, permissions): at the end of
    a release (agents ran, but the file may show an earlier state), or its directory refused
    the release lock at start (nothing launched). Exit 4."""

    exit_code = ExitCode.STATUS_NOT_WRITTEN
