"""Run one git command: no shell, a scrubbed environment, a hard timeout, one-line errors.

Every git call in orchd goes through `run_git`, so secrets, prompts and identities are handled in
one place.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.adapters.threads import in_thread
from orchestrator.errors import OrchdError

MIN_GIT = (2, 38, 0)
"""`merge-tree --write-tree` (the worktree-free conflict check) arrived in git 2.38."""

IDENTITY = {
    "GIT_AUTHOR_NAME": "orchd",
    "GIT_AUTHOR_EMAIL": "orchd@localhost",
    "GIT_COMMITTER_NAME": "orchd",
    "GIT_COMMITTER_EMAIL": "orchd@localhost",
}

# Secrets git never needs; a hook or credential helper could otherwise read them.
_SECRET_ENV = frozenset({"CURSOR_CLOUD_API_KEY", "ORCHD_NOTIFY_URL"})
# Repository-location variables (`git rev-parse --local-env-vars`): set when orchd runs inside a
# git hook, they would point every command at the wrong repository.
_LOCATION_ENV = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_PREFIX",
        "GIT_SHALLOW_FILE",
        "GIT_GRAFT_FILE",
    }
)
# Global options that take the next argument as their value (`git -C dir status`).
_OPTIONS_WITH_VALUE = frozenset({"-c", "-C", "--git-dir", "--work-tree", "--namespace"})
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


@dataclass(frozen=True)
class GitResult:
    """What a finished git command left behind; stdout is raw text (callers parse it)."""

    code: int
    stdout: str
    stderr: str


def redact_url_credentials(text: str) -> str:
    """`https://user:token@host/x` → `https://***@host/x`, anywhere in `text`."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


def subcommand(args: Sequence[str]) -> str:
    """The git subcommand in `args`, skipping global options such as `-C dir` or `--git-dir=x`."""
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
        elif arg in _OPTIONS_WITH_VALUE:
            skip_value = True
        elif not arg.startswith("-"):
            return arg
    return "(no subcommand)"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no error output)"


class GitError(OrchdError):
    """A git command failed, timed out, or git is missing. Credentials in URLs are redacted.

    `args` is the redacted git argv (without the leading `git`); `code` is None when git never
    exited on its own (timeout, not installed).
    """

    def __init__(
        self,
        args: Sequence[str],
        code: int | None,
        stderr: str,
        message: str | None = None,
    ) -> None:
        safe_args = tuple(redact_url_credentials(arg) for arg in args)
        self.code = code
        self.stderr = redact_url_credentials(stderr)
        if message is None:
            message = f"git {subcommand(safe_args)} failed (exit {code}): {_last_line(self.stderr)}"
        self.message = redact_url_credentials(message)
        super().__init__(self.message)
        # BaseException.args normally holds the message; here it is the git argv (the brief's
        # API), so __str__/__reduce__ are defined explicitly.
        self.args = safe_args

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"GitError({self.message!r})"

    def __reduce__(self) -> tuple[type[GitError], tuple[tuple[str, ...], int | None, str, str]]:
        return (GitError, (self.args, self.code, self.stderr, self.message))

    @classmethod
    def from_result(cls, args: Sequence[str], result: GitResult) -> GitError:
        """The standard failure for a command that exited with an unexpected outcome."""
        return cls(args, result.code, result.stderr)


def git_env(env_extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The host environment (so git config and credentials keep working) minus orchd's secrets,
    never prompting, in the C locale (stable messages to parse), committing as orchd."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _SECRET_ENV and key not in _LOCATION_ENV
    }
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    env.update(IDENTITY)
    env.update(env_extra or {})
    return env


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None,
    timeout_s: float,
    env_extra: Mapping[str, str] | None = None,
    input_text: str | None = None,
    ok_codes: Collection[int] = (0,),
) -> GitResult:
    """Run `git <args>`; raise GitError unless the exit code is in `ok_codes`.

    It runs in a worker thread (`subprocess.run`), not `anyio.run_process`: looptime's fake clock
    in the engine's tests fast-forwards past a subprocess's pipes but waits for executor threads,
    and a cancelled caller waits for git to finish (bounded by `timeout_s`) instead of abandoning
    it half-way through a ref update. orchd runs on asyncio only (`anyio.run`'s default).
    """
    argv = ["git", *args]
    command = subcommand(args)
    call = functools.partial(
        subprocess.run,
        argv,
        cwd=cwd,
        env=git_env(env_extra),
        input=input_text,
        stdin=subprocess.DEVNULL if input_text is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        timeout=timeout_s,
        check=False,
        # its own session: a Ctrl-C at orchd's terminal goes to orchd (which aborts cleanly),
        # never to a git half-way through a fetch or a ref update
        start_new_session=True,
    )
    try:
        completed = await in_thread(call)
    except subprocess.TimeoutExpired as exc:
        # TimeoutExpired carries bytes even with text=True.
        raw = exc.stderr or b""
        stderr = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        raise GitError(
            args, None, stderr, f"git {command} timed out after {timeout_s:g}s"
        ) from None
    except FileNotFoundError as exc:
        if cwd is not None and exc.filename == str(cwd):
            raise GitError(
                args, None, "", f"git {command}: directory {cwd} does not exist"
            ) from None
        raise GitError(args, None, "", "git is not installed") from None
    result = GitResult(completed.returncode, completed.stdout, completed.stderr)
    if result.code not in ok_codes:
        raise GitError.from_result(args, result)
    return result


async def git_version() -> tuple[int, int, int]:
    """The installed git's version, for `orchd doctor` to compare with MIN_GIT."""
    result = await run_git(["--version"], cwd=None, timeout_s=30.0)
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", result.stdout)
    if match is None:
        raise GitError(["--version"], 0, "", f"cannot read git's version from {result.stdout!r}")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)
