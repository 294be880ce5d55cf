"""`orchd doctor`: check the environment, git, the remote, the Cursor key and orchd's state dir
before a release, one line per check.

Prints what is wrong and how to fix it, never the key itself. Exit 0 when all checks pass, else 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer

from orchestrator.cli.options import StateDir
from orchestrator.errors import ExitCode, InputError

if TYPE_CHECKING:
    import httpx

ENV_REPO = "REPO_URL"
ENV_BRANCH = "RELEASE_BRANCH"
DEFAULT_BRANCH = "main"  # what `orchd start` uses when RELEASE_BRANCH is not set
LS_REMOTE_TIMEOUT_S = 30.0

_REPO_PATH = re.compile(r"^/[^/\s]+/[^\s]+?(\.git)?/?$")
_BAD_REF_CHARS = re.compile(r"[\s~^:?*\[\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def render(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


def check_repo_url(value: str) -> str | None:
    """What is wrong with REPO_URL, or None: an https git URL without credentials, or a local
    repository (a path or a `file://` URL)."""
    from orchestrator.daemon import url_has_credentials
    from orchestrator.fakecursor.runs import is_local_repo  # what the fake's agents can push to

    if is_local_repo(value):
        if value.startswith("file://"):
            parts = urlsplit(value)
            if parts.netloc not in {"", "localhost"} or not parts.path.startswith("/"):
                return "a file:// URL must name a local path: file:///path/to/repo.git"
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return (
            "must be an https URL such as https://github.com/org/repo "
            "(or a local repo: /path/to/repo.git or file:///path/to/repo.git)"
        )
    if url_has_credentials(value):
        return (
            "must not contain credentials (Cursor uses its GitHub app; orchd pushes with the "
            "host's git credentials, e.g. a credential helper)"
        )
    if parts.query or parts.fragment or not _REPO_PATH.match(parts.path):
        return "must name a repository: https://<host>/<owner>/<repo>"
    return None


def check_branch(value: str) -> str | None:
    """What is wrong with RELEASE_BRANCH as a git branch name, or None."""
    if _BAD_REF_CHARS.search(value) or ".." in value or "@{" in value:
        return "is not a valid git branch name (no spaces, '..', '~^:?*[\\')"
    if value.startswith(("-", "/")) or value.endswith(("/", ".", ".lock")):
        return "is not a valid git branch name (bad start or end)"
    return None


def _check_env(env: Mapping[str, str]) -> list[Check]:
    from orchestrator.adapters.cursor.settings import ENV_KEY, ENV_URL, check_base_url
    from orchestrator.fakecursor.runs import is_local_repo

    checks: list[Check] = []
    url = env.get(ENV_URL, "").strip()
    problem = check_base_url(url) if url else "is not set (e.g. https://api.cursor.com/v1)"
    checks.append(Check(ENV_URL, problem is None, problem or url))
    key = env.get(ENV_KEY, "").strip()
    checks.append(
        Check(ENV_KEY, True, "set (not shown)")
        if key
        else Check(ENV_KEY, False, "is not set (create a key in the Cursor dashboard)")
    )
    repo = env.get(ENV_REPO, "").strip()
    problem = check_repo_url(repo) if repo else "is not set (e.g. https://github.com/org/repo)"
    if problem is None and is_local_repo(repo):
        repo += " (a local repo: only `orchd fake-cursor` agents can work on it)"
    checks.append(Check(ENV_REPO, problem is None, problem or repo))
    branch = env.get(ENV_BRANCH, "").strip()
    if branch:
        problem = check_branch(branch)
        checks.append(Check(ENV_BRANCH, problem is None, problem or branch))
    else:
        checks.append(
            Check(ENV_BRANCH, True, f"not set: {DEFAULT_BRANCH} (the release branch's base)")
        )
    return checks


def _version(parts: tuple[int, ...]) -> str:
    return ".".join(map(str, parts))


async def _check_git() -> Check:
    from orchestrator.adapters.git import MIN_GIT, GitError, git_version

    try:
        found = await git_version()
    except GitError as exc:
        return Check("git", False, f"{exc} (orchd needs git {_version(MIN_GIT)} or newer)")
    if found < MIN_GIT:
        return Check(
            "git", False, f"{_version(found)} is too old (orchd needs {_version(MIN_GIT)}+)"
        )
    return Check("git", True, f"{_version(found)} (needs {_version(MIN_GIT)}+)")


async def _check_remote(env: Mapping[str, str], *, git_ok: bool) -> list[Check]:
    """The remote answers `git ls-remote` with the host's credentials, and has the base branch.
    Never prints REPO_URL's userinfo (refused above anyway) and never prompts."""
    from orchestrator.adapters.git import GitError, run_git

    repo = env.get(ENV_REPO, "").strip()
    branch = env.get(ENV_BRANCH, "").strip() or DEFAULT_BRANCH
    unusable = [
        name
        for name, bad in (
            ("git", not git_ok),
            (ENV_REPO, not repo or check_repo_url(repo) is not None),
            (ENV_BRANCH, check_branch(branch) is not None),
        )
        if bad
    ]
    if unusable:
        why = f"{' and '.join(unusable)} {'is' if len(unusable) == 1 else 'are'} not usable"
        return [
            Check("remote", False, f"not checked: {why}"),
            Check("release base branch", False, f"not checked: {why}"),
        ]
    try:
        result = await run_git(
            ["ls-remote", "--heads", "--", repo],
            cwd=None,
            timeout_s=LS_REMOTE_TIMEOUT_S,
        )
    except GitError as exc:
        return [
            Check(
                "remote",
                False,
                f"{exc} (orchd pushes the release branch with this host's git credentials: "
                "check access with `git ls-remote <REPO_URL>`)",
            ),
            Check("release base branch", False, "not checked: the remote did not answer"),
        ]
    heads = {
        line.split("\t", 1)[1].removeprefix("refs/heads/")
        for line in result.stdout.splitlines()
        if "\t" in line
    }
    checks = [Check("remote", True, f"answers git ls-remote ({len(heads)} branch(es))")]
    if branch in heads:
        checks.append(Check("release base branch", True, f"{branch} exists on the remote"))
    else:
        checks.append(
            Check(
                "release base branch",
                False,
                f"{branch} is not a branch of the remote (set {ENV_BRANCH} to the branch the "
                "release starts from)",
            )
        )
    return checks


def check_state_dir(state_dir: Path) -> Check:
    """orchd's state dir is a folder it may write, or one it can create (doctor writes
    nothing): `orchd start` keeps its git cache, worktrees, lock and gate logs there."""
    what = f"{state_dir} (git cache, gate worktrees and logs, release locks, decisions)"
    existing = state_dir
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return Check("state dir", False, f"{what}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        return Check("state dir", False, f"{what}: {existing} is not writable for this user")
    return Check("state dir", True, what if existing == state_dir else f"{what}, to be created")


async def _check_key(env: Mapping[str, str], transport: httpx.AsyncBaseTransport | None) -> Check:
    from orchestrator.adapters.cursor.client import CursorClient
    from orchestrator.adapters.cursor.errors import CursorError
    from orchestrator.adapters.cursor.settings import build_http_client, client_settings_from_env
    from orchestrator.core.backoff import BackoffPolicy

    # Doctor is interactive: a few quick retries, never minutes of waiting.
    backoff = BackoffPolicy(max_attempts=3, initial_delay_s=0.5, max_total_s=15.0)
    try:
        settings = client_settings_from_env(env)
    except InputError as exc:
        return Check("Cursor API key", False, f"not checked: {exc}")
    async with build_http_client(settings, transport=transport) as http:
        client = CursorClient.from_settings(http, settings, backoff=backoff)
        try:
            me = await client.me()
        except CursorError as exc:
            return Check("Cursor API key", False, str(exc))
    owner = f" of {me.user_email}" if me.user_email else ""
    return Check("Cursor API key", True, f"accepted: key {me.api_key_name!r}{owner}")


async def run_checks(
    env: Mapping[str, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    state_dir: Path | None = None,
) -> list[Check]:
    """All checks in order: env, git, the remote (ls-remote, the base branch), the API check
    (which runs only when URL and key are usable), then the state dir (`--state-dir`, else
    from `env` as `orchd start` finds it)."""
    from orchestrator.adapters.state_dir import resolve_state_dir

    checks = _check_env(env)
    git = await _check_git()
    checks.append(git)
    checks.extend(await _check_remote(env, git_ok=git.ok))
    checks.append(await _check_key(env, transport))
    checks.append(check_state_dir(resolve_state_dir(state_dir, env)))
    return checks


def doctor(state_dir: StateDir = None) -> None:
    """Check env, git (2.38+), that REPO_URL answers and has RELEASE_BRANCH, the key, and that
    orchd's state dir is writable."""
    import anyio

    checks = anyio.run(lambda: run_checks(dict(os.environ), state_dir=state_dir))
    for check in checks:
        typer.echo(check.render())
    ok = all(check.ok for check in checks)
    raise typer.Exit(int(ExitCode.OK if ok else ExitCode.BAD_INPUT))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
