"""Run one release in this process: the HTTP clients sized to it, the git merge queue, the
supervisor, the webhook, sd_notify, and a shutdown trigger turned into abort or detach.

`run_release` is the one place these meet; what it needs checked or sized beforehand lives in
the sibling modules (prepare, lock, sizing, stops), so this file reads as the run's order.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import structlog

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.settings import build_http_client, build_stream_clients
from orchestrator.adapters.daemon_metrics import DaemonMetrics
from orchestrator.adapters.decisions import decision_path
from orchestrator.adapters.git import GitCache, GitError
from orchestrator.adapters.notify import Notifier
from orchestrator.adapters.sd_notify import ServiceNotifier
from orchestrator.adapters.state_dir import release_runtime_dir, resolve_state_dir
from orchestrator.core.service_status import service_status
from orchestrator.daemon.decider import PauseDisplay, build_decider
from orchestrator.daemon.lock import unwritable
from orchestrator.daemon.run_env import RunEnv
from orchestrator.daemon.sizing import (
    NOTIFY_CONNECTIONS,
    collect_garbage_less_often,
    connection_sizes,
    raise_open_file_limit,
)
from orchestrator.daemon.stops import ShutdownTrigger, Stops, signal_trigger
from orchestrator.engine.asking import Notify
from orchestrator.engine.configure import DecisionModes
from orchestrator.engine.deciders import Decider
from orchestrator.engine.merge_queue import MergeQueue
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.supervisor import ReleaseOutcome, StatusWriterHook, Supervisor
from orchestrator.errors import ExitCode, InputError, StatusWriteFailed
from orchestrator.models.release import ReleasePlan
from orchestrator.models.status import ReleaseStatus, StatusFile

log = structlog.get_logger("orchd.daemon")

EXIT_FOR_STATUS = {
    ReleaseStatus.COMPLETED: ExitCode.OK,
    ReleaseStatus.FAILED: ExitCode.RELEASE_FAILED,
    ReleaseStatus.ABORTED: ExitCode.ABORTED,
    ReleaseStatus.DETACHED: ExitCode.DETACHED,
}


def merge_queue_for(
    plan: ReleasePlan, settings: EngineSettings, repo_url: str, base_branch: str
) -> MergeQueue:
    """One bare cache per (release, remote): releases never share a repo's ref locks."""
    state = resolve_state_dir(settings.state_dir)
    key = hashlib.sha256(repo_url.encode()).hexdigest()[:12]
    name = f"{plan.release_id}-{key}"
    return MergeQueue(
        GitCache(repo_url, state / "repos" / f"{name}.git", timeout_s=settings.git_timeout_s),
        release_id=plan.release_id,
        branch=settings.branch_for(plan.release_id),
        base_branch=base_branch,
        worktrees=state / "worktrees" / name,
    )


def candidate_attempts(existing: StatusFile | None) -> dict[Decimal, int]:
    """Candidate numbers an earlier run used (`…/cand/b0.7.2` → 2): a restart counts on."""
    found: dict[Decimal, int] = {}
    for batch in existing.batches if existing else []:
        number = (batch.candidate or "").rpartition(".")[2]
        if number.isdigit():
            found[batch.batch_id] = int(number)
    return found


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
    modes: DecisionModes | None = None,
    notify_url: str | None = None,
    decider: Decider | None = None,
    extra_notifier: Notify | None = None,
    pause_display: PauseDisplay | None = None,
    metrics: DaemonMetrics | None = None,
    service: ServiceNotifier | None = None,
    queue: MergeQueue | None = None,
) -> ReleaseOutcome:
    """Run the release to its end (or abort, or detach) and return the outcome. Called holding
    the release lock with the plan loaded; `service` (default: from `$NOTIFY_SOCKET`) hears
    READY=1 once the release branch is set up, STATUS= as the release moves, WATCHDOG=1 from
    the event loop and STOPPING=1 on the way out. `queue` replaces the git merge queue (the
    scale bench measures supervision without git)."""
    modes = modes or DecisionModes("fail", "continue", None)
    runtime = release_runtime_dir(status_path, resolve_state_dir(settings.state_dir))
    service = service or ServiceNotifier.from_env(os.environ)
    # a decision left by an earlier run must not answer this run's first question
    try:
        decision_path(runtime).unlink(missing_ok=True)
    except OSError as exc:
        raise unwritable(decision_path(runtime), exc) from None
    settings = replace(settings, repo_url=run_env.repo_url, release_branch=run_env.release_branch)
    sizes = connection_sizes(plan.limits.effective_parallel, raise_open_file_limit())
    collect_garbage_less_often()
    if settings.use_stream and sizes.streams < plan.limits.effective_parallel:
        log.warning(
            "process.streams_limited",
            streams=sizes.streams,
            parallel=plan.limits.effective_parallel,
            detail="the open-file limit allows this many streams; the other runs are polled "
            "(raise LimitNOFILE / ulimit -Hn)",
        )
    stops = Stops(shutdown_trigger or (signal_trigger if install_signal_handlers else None))

    def _on_change(snapshot: StatusFile) -> None:
        if metrics is not None:
            metrics.written()
        if on_change is not None:
            on_change(snapshot)
        service.status(service_status(snapshot))

    setup_error: InputError | None = None  # raised once the task group is closed
    notifier: Notifier | None = None
    outcome: ReleaseOutcome | None = None
    try:
        async with (
            build_http_client(
                run_env.cursor,
                transport=transport,
                max_connections=sizes.in_flight + NOTIFY_CONNECTIONS,
                max_keepalive=sizes.keep_alive,
            ) as http,
            build_stream_clients(
                run_env.cursor,
                max_streams=sizes.streams,
                transport=transport,
                on_client=metrics.instrument if metrics is not None else None,
            ) as streams,
            anyio.create_task_group() as group,
        ):
            if shutdown_trigger is None:  # signals: a detach during the git setup is kept
                group.start_soon(stops.listen, service)
            if metrics is not None:
                metrics.instrument(http)
            client = CursorClient.from_settings(
                http, run_env.cursor, max_in_flight=sizes.in_flight, streams=streams
            )
            if queue is None:
                queue = merge_queue_for(plan, settings, run_env.repo_url, run_env.release_branch)
            service.status(f"setting up {queue.branch} from REPO_URL")
            try:
                await queue.open(candidate_attempts(existing))
            except GitError as exc:
                setup_error = InputError(f"REPO_URL: the release branch cannot be set up: {exc}")
                setup_error.__cause__ = exc
            except InputError as exc:  # RELEASE_BRANCH is not on the remote
                setup_error = exc
            else:
                notifier = Notifier(
                    notify_url,
                    http,
                    secrets=[run_env.cursor.api_key.get_secret_value()],
                    release_id=plan.release_id,
                )
                supervisor = Supervisor(
                    plan,
                    client,
                    settings,
                    status_path,
                    queue,
                    existing=existing,
                    writer_hook=_on_change,
                    decider=decider or build_decider(modes, runtime, pause_display),
                    notifier=_Both(notifier, extra_notifier) if extra_notifier else notifier,
                    keep_siblings_on_failure=None if decider else modes.on_batch_failure == "fail",
                    gate_log_dir=runtime / "gate_logs",  # orchd's state dir, not the checkout
                    on_event=metrics.observe if metrics is not None else None,
                )
                stops.attach(supervisor)
                if shutdown_trigger is not None:  # a test's trigger times from the release start
                    group.start_soon(stops.listen, service)
                group.start_soon(notifier.run)
                group.start_soon(service.keep_alive)
                service.ready(f"starting: {queue.branch} at {queue.head[:12]}")
                outcome = await supervisor.run()
                await notifier.aclose()
            group.cancel_scope.cancel()
    finally:
        service.stopping()
        service.close()
        if notifier is not None:
            with anyio.CancelScope(shield=True):
                await notifier.aclose(grace_s=0)
    if setup_error is not None:
        raise setup_error
    assert outcome is not None  # the group ends early only on a setup error
    error = supervisor.status_writer.write_error if supervisor.status_writer else None
    if error is not None:
        reason = error.strerror or str(error)
        raise StatusWriteFailed(
            f"{status_path}: the status file could not be written ({reason}); the release "
            f"ended {outcome.status.value} but the file may show an earlier state (once it "
            f"can be written, `orchd start {plan.release_id}` picks up from it)"
        )
    return outcome


class _Both:
    """Fan a notification out to the webhook and an extra listener (tests, the console)."""

    def __init__(self, first: Notify, second: Notify) -> None:
        self._targets = (first, second)

    def notify(self, event: str, text: str, **fields: Any) -> None:
        for target in self._targets:
            target.notify(event, text, **fields)
