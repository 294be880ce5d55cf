"""`orchd doctor`: check the environment and the Cursor key before a release, one line per check.

Prints what is wrong and how to fix it, never the key itself. Exit 0 when all checks pass, else 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httpx
import typer

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.errors import CursorError
from orchestrator.adapters.cursor.settings import (
    ENV_KEY,
    ENV_URL,
    build_http_client,
    check_base_url,
    client_settings_from_env,
)
from orchestrator.core.backoff import BackoffPolicy
from orchestrator.errors import ExitCode, InputError

ENV_REPO = "REPO_URL"
ENV_BRANCH = "RELEASE_BRANCH"

# Doctor is interactive: a few quick retries, never minutes of waiting.
_DOCTOR_BACKOFF = BackoffPolicy(max_attempts=3, initial_delay_s=0.5, max_total_s=15.0)
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
    """What is wrong with REPO_URL, or None: it must be an https git URL without credentials."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https URL such as https://github.com/org/repo"
    if parts.username or parts.password:
        return "must not contain credentials (Cursor uses its GitHub app)"
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
    checks.append(Check(ENV_REPO, problem is None, problem or repo))
    branch = env.get(ENV_BRANCH, "").strip()
    problem = check_branch(branch) if branch else "is not set (the branch agents start from)"
    checks.append(Check(ENV_BRANCH, problem is None, problem or branch))
    return checks


async def run_checks(
    env: Mapping[str, str], *, transport: httpx.AsyncBaseTransport | None = None
) -> list[Check]:
    """All checks in order; the API check runs only when URL and key are usable."""
    checks = _check_env(env)
    try:
        settings = client_settings_from_env(env)
    except InputError as exc:
        checks.append(Check("Cursor API key", False, f"not checked: {exc}"))
        return checks
    async with build_http_client(settings, transport=transport) as http:
        client = CursorClient.from_settings(http, settings, backoff=_DOCTOR_BACKOFF)
        try:
            me = await client.me()
        except CursorError as exc:
            checks.append(Check("Cursor API key", False, str(exc)))
            return checks
    owner = f" of {me.user_email}" if me.user_email else ""
    checks.append(Check("Cursor API key", True, f"accepted: key {me.api_key_name!r}{owner}"))
    return checks


def doctor() -> None:
    """Check env (Cursor URL and key, repo URL, release branch) and the key via GET /v1/me."""
    checks = anyio.run(run_checks, dict(os.environ))
    for check in checks:
        typer.echo(check.render())
    ok = all(check.ok for check in checks)
    raise typer.Exit(int(ExitCode.OK if ok else ExitCode.BAD_INPUT))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
