"""Process edge: the release lock, signals, the HTTP client. The only module with signals.

`run_release` turns SIGTERM/SIGINT into data: the first asks the supervisor to abort (stop
launching, cancel active runs, write `aborted`), a second exits at once (uvicorn's force_exit).
Tests pass their own `shutdown_trigger` instead of real signals.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import anyio
import httpx
import structlog

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.settings import (
    CursorSettings,
    build_http_client,
    client_settings_from_env,
)
from orchestrator.adapters.prompt_template import load_prompt_template
from orchestrator.adapters.release_loader import load_release, load_status_file
from orchestrator.engine.configure import Overrides, engine_settings
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.supervisor import ReleaseOutcome, StatusWriterHook, Supervisor
from orchestrator.errors import ExitCode, InputError
from orchestrator.models.release import ReleasePlan, StrategyType
from orchestrator.models.status import ReleaseStatus, StatusFile

log = structlog.get_logger("orchd.daemon")

ShutdownTrigger = Callable[[], Awaitable[None]]

EXIT_FOR_STATUS = {
    ReleaseStatus.COMPLETED: ExitCode.OK,
    ReleaseStatus.FAILED: ExitCode.RELEASE_FAILED,
    ReleaseStatus.ABORTED: ExitCode.ABORTED,
}


@dataclass(frozen=True)
class RunEnv:
    """What `orchd start` needs from the environment, checked before anything is written."""

    cursor: CursorSettings
    repo_url: str
    release_branch: str


def env_for_start(env: Mapping[str, str]) -> RunEnv:
    cursor = client_settings_from_env(env)
    repo_url = env.get("REPO_URL", "").strip()
    if not repo_url:
        raise InputError(
            "REPO_URL is not set (export the repository agents work on, "
            "e.g. https://github.com/owner/repo)"
        )
    branch = env.get("RELEASE_BRANCH", "").strip() or "main"
    return RunEnv(cursor=cursor, repo_url=repo_url, release_branch=branch)


def status_path_for(plan: ReleasePlan, repo_root: Path) -> Path:
    """`agent_spawning.status_file` (relative to the repo root), else the release dir's file."""
    if plan.limits.status_file:
        path = Path(plan.limits.status_file)
        return path if path.is_absolute() else repo_root / path
    return Path(plan.release_dir) / "agent_status.json"


@contextlib.contextmanager
def release_lock(status_path: Path) -> Iterator[None]:
    """One orchd per release: an exclusive flock on `<status file>.pid` holding our pid."""
    status_path.parent.mkdir(parents=True, exist_ok=True)
    lock_file = status_path.with_name(status_path.name + ".pid")
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InputError(
                f"{lock_file}: another orchd (pid {other}) is running this release; "
                "stop it first (orchd status shows it)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)


async def _signal_trigger() -> None:
    """Return at the first SIGTERM/SIGINT; a second one exits the process at once."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.warning("release.abort_requested", signal=signal.Signals(signum).name)
            break
    # Keep listening in a thread-free way: a second signal forces exit.
    signal.signal(signal.SIGINT, _force_exit)
    signal.signal(signal.SIGTERM, _force_exit)


def _force_exit(signum: int, frame: object) -> None:
    os._exit(int(ExitCode.ABORTED))


async def run_release(
    plan: ReleasePlan,
    settings: EngineSettings,
    run_env: RunEnv,
    status_path: Path,
    *,
    existing: StatusFile | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    shutdown_trigger: ShutdownTrigger | None = None,
    on_change: StatusWriterHook | None = None,
    install_signal_handlers: bool = True,
) -> ReleaseOutcome:
    """Run the release to its end (or abort) and return the outcome."""
    settings = replace(settings, repo_url=run_env.repo_url, release_branch=run_env.release_branch)
    max_connections = max(20, 2 * plan.limits.effective_parallel + 10)
    async with build_http_client(
        run_env.cursor, transport=transport, max_connections=max_connections
    ) as http:
        client = CursorClient.from_settings(http, run_env.cursor)
        supervisor = Supervisor(
            plan, client, settings, status_path, existing=existing, writer_hook=on_change
        )
        trigger = shutdown_trigger or (_signal_trigger if install_signal_handlers else None)
        async with anyio.create_task_group() as group:
            if trigger is not None:

                async def _abort_on_trigger() -> None:
                    await trigger()
                    supervisor.abort()

                group.start_soon(_abort_on_trigger)
            outcome = await supervisor.run()
            group.cancel_scope.cancel()
    return outcome


@dataclass(frozen=True)
class Prepared:
    """Everything `orchd start` checked before it writes anything."""

    plan: ReleasePlan
    settings: EngineSettings
    run_env: RunEnv
    status_path: Path
    existing: StatusFile | None
    existing_notes: tuple[str, ...]


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
) -> Prepared:
    """Check env, release files and template; raise InputError (exit 2) before any write."""
    run_env = env_for_start(env)
    plan = load_release(
        release_id,
        repo_root=repo_root,
        release_dir=release_dir,
        strategy_override=strategy,
        strict=strict,
        strict_batches=overrides.strict_batches,
    )
    template_path = prompt_template or _template_from_plan(plan, repo_root)
    settings = engine_settings(
        plan,
        overrides,
        repo_url=run_env.repo_url,
        release_branch=run_env.release_branch,
        prompt_template=load_prompt_template(template_path),
        env=env,
    )
    status_path = status_path_for(plan, repo_root)
    existing: StatusFile | None = None
    notes: tuple[str, ...] = ()
    if status_path.exists():
        existing, odd = load_status_file(status_path)
        notes = tuple(odd)
    return Prepared(plan, settings, run_env, status_path, existing, notes)


def _template_from_plan(plan: ReleasePlan, repo_root: Path) -> Path | None:
    if not plan.limits.prompt_template:
        return None
    path = Path(plan.limits.prompt_template)
    return path if path.is_absolute() else repo_root / path
