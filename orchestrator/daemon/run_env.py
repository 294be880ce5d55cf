"""What `orchd start` needs from the environment (Cursor URL and key, REPO_URL,
RELEASE_BRANCH), every problem reported at once before anything is written.

Separate from preparing the release: `orchd doctor` checks the same REPO_URL rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from orchestrator.adapters.cursor.settings import (
    ENV_KEY,
    ENV_URL,
    CursorSettings,
    check_base_url,
    client_settings_from_env,
)
from orchestrator.errors import InputError


@dataclass(frozen=True)
class RunEnv:
    """What `orchd start` needs from the environment, checked before anything is written."""

    cursor: CursorSettings
    repo_url: str
    release_branch: str


def env_for_start(env: Mapping[str, str]) -> RunEnv:
    """The Cursor settings, REPO_URL and RELEASE_BRANCH; every missing or unusable variable is
    reported at once, one line each (InputError, exit 2)."""
    problems: list[str] = []
    url = env.get(ENV_URL, "").strip()
    if not url:
        problems.append(f"{ENV_URL} is not set (export it, e.g. https://api.cursor.com/v1)")
    elif (url_problem := check_base_url(url)) is not None:
        problems.append(f"{ENV_URL}: {url_problem}")
    if not env.get(ENV_KEY, "").strip():
        problems.append(f"{ENV_KEY} is not set (create a key in the Cursor dashboard)")
    repo_url = env.get("REPO_URL", "").strip()
    if not repo_url:
        problems.append(
            "REPO_URL is not set (export the repository agents work on, "
            "e.g. https://github.com/owner/repo)"
        )
    elif url_has_credentials(repo_url):
        problems.append(
            "REPO_URL carries credentials (value not shown): they would be sent to Cursor with "
            "every launch and kept in orchd's git cache; use this machine's git credential "
            "helper instead (orchd doctor checks it)"
        )
    if problems:
        raise InputError("\n".join(problems))
    cursor = client_settings_from_env(env)  # what is left: the auth scheme
    branch = env.get("RELEASE_BRANCH", "").strip() or "main"
    return RunEnv(cursor=cursor, repo_url=repo_url, release_branch=branch)


def url_has_credentials(url: str) -> bool:
    """An http(s) URL with a user or token in it (`https://x:ghp_…@github.com/…`)."""
    parts = urlsplit(url)
    return parts.scheme.lower() in {"http", "https"} and bool(parts.username or parts.password)
