"""Everything `orchd start` checks before it writes anything: environment, release files,
prompt template, webhook URL; and, under the release lock, the status file an earlier run left.

Separate from the run: bad input ends here with one line and exit 2, before the lock, the
git cache or any agent exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from orchestrator.adapters.decisions import decision_path
from orchestrator.adapters.prompt_template import load_prompt_template
from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.release_lock import status_path_for
from orchestrator.adapters.release_paths import MANIFEST
from orchestrator.adapters.state_dir import release_runtime_dir, resolve_state_dir
from orchestrator.adapters.status_read import load_status_file
from orchestrator.daemon.run_env import RunEnv, env_for_start
from orchestrator.engine.configure import DecisionModes, Overrides, decision_modes, engine_settings
from orchestrator.engine.settings import EngineSettings
from orchestrator.errors import InputError
from orchestrator.models.release import ReleasePlan, StrategyType
from orchestrator.models.status import StatusFile


@dataclass(frozen=True)
class Prepared:
    """Everything `orchd start` checked before it writes anything."""

    plan: ReleasePlan
    settings: EngineSettings
    run_env: RunEnv
    status_path: Path
    modes: DecisionModes
    notify_url: str | None


def prepare_start(
    release_id: str,
    *,
    repo_root: Path,
    release_dir: Path | None,
    strategy: StrategyType | None,
    strict: bool,
    overrides: Overrides,
    prompt_template: Path | None,
    env: Mapping[str, str],
    interactive: bool = False,
) -> Prepared:
    """Check env, release files and template; raise InputError (exit 2) before any write.
    The status file an earlier run left is read later, under the release lock
    (`read_existing`)."""
    run_env = env_for_start(env)
    overrides = replace(overrides, state_dir=resolve_state_dir(overrides.state_dir, env))
    plan = load_release(
        release_id,
        repo_root=repo_root,
        release_dir=release_dir,
        strategy_override=strategy,
        strict=strict,
        strict_batches=overrides.strict_batches,
    )
    template_path = prompt_template or _template_from_plan(plan)
    settings = engine_settings(
        plan,
        overrides,
        repo_url=run_env.repo_url,
        release_branch=run_env.release_branch,
        prompt_template=load_prompt_template(template_path),
        env=env,
        repo_root=repo_root,
    )
    modes = decision_modes(plan, overrides, interactive=interactive, env=env)
    status_path = status_path_for(plan, repo_root)
    notify_url = env.get("ORCHD_NOTIFY_URL", "").strip() or None
    if notify_url is not None:
        _check_notify_url(notify_url)
    return Prepared(plan, settings, run_env, status_path, modes, notify_url)


def read_existing(
    status_path: Path, state_dir: Path | None = None
) -> tuple[StatusFile | None, tuple[str, ...]]:
    """The status file an earlier run left, and notes about it. Call it holding
    `release_lock`: two starts never both take the same old file as their starting point."""
    existing: StatusFile | None = None
    notes: tuple[str, ...] = ()
    if status_path.exists():
        existing, odd = load_status_file(status_path)
        notes = tuple(f"{status_path}: {note}" for note in odd)
    stale = decision_path(release_runtime_dir(status_path, resolve_state_dir(state_dir)))
    if stale.exists():
        notes = (*notes, f"{stale}: a decision left from an earlier run was discarded")
    return existing, notes


def _check_notify_url(url: str) -> None:
    """A typo in the webhook is bad input now, not a surprise at the first escalation."""
    try:
        parsed = httpx.URL(url)
        ok = parsed.scheme in {"http", "https"} and bool(parsed.host)
        _ = parsed.port  # an invalid port raises here
    except (httpx.InvalidURL, ValueError, TypeError):
        ok = False
    if not ok:
        raise InputError(
            "ORCHD_NOTIFY_URL is not an http(s) URL (value not shown: it holds a token)"
        )


def _template_from_plan(plan: ReleasePlan) -> Path | None:
    """The manifest's `prompt_template`, else the repository's `config/worker_prompt.md`, else
    None (the packaged default). Both are in the release's repository, never in the current
    directory when `--release-dir` points elsewhere."""
    repository = Path(plan.repository) if plan.repository is not None else None
    if not plan.limits.prompt_template:
        conventional = repository / "config" / "worker_prompt.md" if repository else None
        return conventional if conventional is not None and conventional.is_file() else None
    path = Path(plan.limits.prompt_template)
    if path.is_absolute():
        return path
    if repository is None:
        raise InputError(
            f"{plan.release_dir}/{MANIFEST}: prompt_template {str(path)!r} is relative to "
            "the repository, and the release folder is in none; give an absolute path or "
            "--prompt-template"
        )
    return repository / path
