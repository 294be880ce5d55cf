"""Process edge: the release lock, signals, sd_notify, the HTTP client. The only module with
signals.

`run_release` turns signals into data: SIGTERM/SIGINT ask the supervisor to abort (stop
launching, cancel active runs, write `aborted`), SIGUSR1 (`orchd detach`, `systemctl reload`) to
detach (stop supervising, leave every agent running, write `detached`); a second SIGTERM/SIGINT
exits at once (uvicorn's force_exit). Tests pass their own `shutdown_trigger` instead of real
signals. Under systemd (`Type=notify`) it reports readiness, progress, liveness and its end.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import os
import resource
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import structlog

from orchestrator.adapters.cursor.client import CursorClient
from orchestrator.adapters.cursor.errors import CursorError, Forbidden, Unauthorized
from orchestrator.adapters.cursor.settings import (
    ENV_KEY,
    ENV_URL,
    CursorSettings,
    build_http_client,
    build_stream_clients,
    check_base_url,
    client_settings_from_env,
)
from orchestrator.adapters.daemon_metrics import DaemonMetrics
from orchestrator.adapters.decisions import decision_path
from orchestrator.adapters.git import GitCache, GitError
from orchestrator.adapters.notify import Notifier
from orchestrator.adapters.prompt_template import load_prompt_template
from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.release_lock import pid_path as pid_path
from orchestrator.adapters.release_lock import running_orchd as running_orchd
from orchestrator.adapters.release_lock import status_path_for as status_path_for
from orchestrator.adapters.release_paths import MANIFEST
from orchestrator.adapters.sd_notify import ServiceNotifier
from orchestrator.adapters.state_dir import release_runtime_dir, resolve_state_dir
from orchestrator.adapters.status_read import load_status_file
from orchestrator.adapters.terminal_prompt import ask_terminal
from orchestrator.core.backoff import BackoffPolicy
from orchestrator.core.service_status import service_status
from orchestrator.engine.asking import Notify
from orchestrator.engine.configure import DecisionModes, Overrides, decision_modes, engine_settings
from orchestrator.engine.deciders import (
    Answer,
    ChannelDecider,
    Decider,
    PolicyDecider,
    Question,
    RacingDecider,
    RoutingDecider,
)
from orchestrator.engine.merge_queue import MergeQueue
from orchestrator.engine.settings import EngineSettings
from orchestrator.engine.supervisor import ReleaseOutcome, StatusWriterHook, Supervisor
from orchestrator.errors import ExitCode, InputError, OrchdError, StatusWriteFailed
from orchestrator.models.release import ReleasePlan, StrategyType
from orchestrator.models.status import ReleaseStatus, StatusFile

log = structlog.get_logger("orchd.daemon")


class Stop(StrEnum):
    """What a shutdown trigger asks for."""

    ABORT = "abort"  # cancel every active run, exit 3
    DETACH = "detach"  # leave every agent running for the next start, exit 5


# returns when orchd should stop, saying how (None: abort)
ShutdownTrigger = Callable[[], Awaitable[Stop | None]]

# `orchd start` checks the key before anything else: a few quick retries, never minutes
KEY_CHECK_BACKOFF = BackoffPolicy(max_attempts=3, initial_delay_s=0.5, max_total_s=15.0)

EXIT_FOR_STATUS = {
    ReleaseStatus.COMPLETED: ExitCode.OK,
    ReleaseStatus.FAILED: ExitCode.RELEASE_FAILED,
    ReleaseStatus.ABORTED: ExitCode.ABORTED,
    ReleaseStatus.DETACHED: ExitCode.DETACHED,
}


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


_LEGACY_SUFFIXES = (".lock", ".decision", ".decision.taken", ".decision.rejected")
"""What orchd 0.x kept beside the status file, in the user's checkout (and `.pid`)."""


def _remove_legacy_files(status_path: Path) -> None:
    """An earlier orchd's lock and decision files beside the status file: removed, so an
    upgraded checkout's `git status` shows only the status file. Its `.pid` only when no
    orchd holds it."""
    for suffix in _LEGACY_SUFFIXES:
        with contextlib.suppress(OSError):
            status_path.with_name(status_path.name + suffix).unlink(missing_ok=True)
    legacy_pid = status_path.with_name(status_path.name + ".pid")
    try:
        fd = os.open(legacy_pid, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        legacy_pid.unlink()
    except OSError:
        pass  # held by an orchd from before the upgrade, or not ours to remove
    finally:
        os.close(fd)


@contextlib.contextmanager
def release_lock(status_path: Path, state_dir: Path | None = None) -> Iterator[None]:
    """One orchd per release: an exclusive flock on `orchd.pid` (see `pid_path`) holding our
    pid, in the state dir so the user's checkout holds only the status file."""
    lock_file = pid_path(status_path, state_dir)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        (lock_file.parent / "status_file").write_text(f"{os.path.realpath(status_path)}\n")
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _unwritable(lock_file, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise InputError(
                f"{lock_file}: another orchd (pid {other}) is running this release; "
                "stop it first (orchd status shows it)"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            raise _unwritable(lock_file, exc) from None
        _remove_legacy_files(status_path)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # ours to clear: we held the lock
    finally:
        os.close(fd)


def _unwritable(path: Path, exc: OSError) -> StatusWriteFailed:
    reason = exc.strerror or str(exc)
    return StatusWriteFailed(
        f"{path}: cannot write in orchd's state dir ({reason}); nothing was launched "
        "(--state-dir, $STATE_DIRECTORY or $XDG_STATE_HOME choose it)"
    )


@dataclass(frozen=True)
class DetachedDaemon:
    """An orchd that `request_detach` saw exit, and the status file it left."""

    pid: int
    snapshot: StatusFile | None


class DetachTimedOut(OrchdError):
    """The orchd asked to detach is still running after the wait (exit 1)."""

    exit_code = ExitCode.RELEASE_FAILED


def request_detach(
    status_path: Path, state_dir: Path | None = None, *, wait_s: float, poll_s: float = 0.1
) -> DetachedDaemon:
    """`orchd detach`: SIGUSR1 to the orchd holding this release's lock (in `state_dir`, as
    `running_orchd`), then wait (at most `wait_s`) until it has let go of the lock and exited,
    so a `start` right after never finds the old one still there."""
    pid = running_orchd(status_path, state_dir)
    if pid is None:
        raise InputError(
            f"{status_path}: no orchd is running this release (nothing to detach; "
            "--state-dir names the state dir of an orchd started with one)"
        )
    if pid <= 0:
        lock = pid_path(status_path, state_dir)
        raise InputError(f"{lock}: the release is locked but holds no pid")
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        raise InputError(
            f"{status_path}: no orchd is running this release (pid {pid} is gone)"
        ) from None
    except PermissionError:
        raise InputError(
            f"cannot signal orchd (pid {pid}): it runs as another user (run this as that user; "
            "under systemd: systemctl reload orchd@<release>)"
        ) from None
    deadline = time.monotonic() + wait_s
    while running_orchd(status_path, state_dir) is not None or not _exited(pid):
        if time.monotonic() >= deadline:
            raise DetachTimedOut(
                f"orchd (pid {pid}) was asked to detach but still runs after {wait_s:g}s "
                "(it may be finishing a git operation; run `orchd detach` again to wait on)"
            )
        time.sleep(poll_s)
    snapshot = load_status_file(status_path)[0] if status_path.exists() else None
    return DetachedDaemon(pid, snapshot)


def _exited(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet (it holds nothing any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): alive until reaped
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


async def _signal_trigger() -> Stop:
    """Return at the first SIGTERM/SIGINT (abort) or SIGUSR1 (detach); from then on a
    SIGTERM/SIGINT exits the process at once and a SIGUSR1 is ignored."""
    stop = Stop.ABORT
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGUSR1) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if signum == signal.SIGUSR1:
                stop = Stop.DETACH
                log.warning("release.detach_requested", signal=name)
            else:
                log.warning("release.abort_requested", signal=name)
            break
    # Keep listening in a thread-free way: a second signal forces exit (with what the first
    # asked for: a detach cut short still leaves the agents running).
    code = ExitCode.DETACHED if stop is Stop.DETACH else ExitCode.ABORTED
    signal.signal(signal.SIGINT, _force_exit(code))
    signal.signal(signal.SIGTERM, _force_exit(code))
    # its default action would kill orchd mid-way (a handler, not SIG_IGN: children inherit that)
    signal.signal(signal.SIGUSR1, _ignore)
    return stop


def _force_exit(code: ExitCode) -> Callable[[int, object], None]:
    def handler(signum: int, frame: object) -> None:
        os._exit(int(code))

    return handler


def _ignore(signum: int, frame: object) -> None:
    """Already stopping: nothing more to do."""


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
        raise _unwritable(decision_path(runtime), exc) from None
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
    stops = _Stops(shutdown_trigger or (_signal_trigger if install_signal_handlers else None))

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
                max_connections=sizes.in_flight + _NOTIFY_CONNECTIONS,
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


_NOTIFY_CONNECTIONS = 2  # the webhook shares the request client, outside the request slots
_RESERVED_FILES = 256  # descriptors kept for everything but streams: git, gates, the status file
_STREAM_SLACK = 8  # streams beyond one per run: a reconnect may overlap the old one's close


@dataclass(frozen=True)
class ConnectionSizes:
    """How many Cursor requests may be in flight, and how many streams may be open, at once."""

    in_flight: int
    keep_alive: int
    streams: int


def connection_sizes(parallel: int, open_files: int) -> ConnectionSizes:
    """Sized to the work: a request slot per run up to 32 (a run has at most one request at a
    time, mostly none; more in flight only queue in the event loop), a quarter of them kept
    alive (httpcore checks every idle connection on each request), and a stream per run;
    streams get what the open-file limit leaves after the requests and `_RESERVED_FILES`, the
    other runs are polled."""
    in_flight = min(32, max(8, parallel))
    budget = open_files - in_flight - _NOTIFY_CONNECTIONS - _RESERVED_FILES
    keep_alive = max(4, in_flight // 4)
    return ConnectionSizes(in_flight, keep_alive, max(0, min(parallel + _STREAM_SLACK, budget)))


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (a stream per agent needs thousands of
    descriptors; systemd and most shells start at 1024) and return the soft limit now."""
    unlimited = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != unlimited and (hard == unlimited or soft < hard):
        # an unlimited hard limit (macOS) is capped by the kernel: try smaller targets in turn
        for target in [hard] if hard != unlimited else [1 << 20, 1 << 16, 10240]:
            if target <= soft:
                break
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            except (ValueError, OSError):
                continue
            break
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    effective = 1 << 20 if soft == resource.RLIM_INFINITY else soft
    log.debug("process.open_files", soft_limit=effective, hard_limit=hard)
    return effective


_GC_YOUNG_THRESHOLD = 10_000  # CPython's default is 700


def collect_garbage_less_often() -> None:
    """A release keeps thousands of tasks, streams and status entries alive for hours: at
    CPython's default the collector runs every 700 allocations, and each time the heap grew
    by a quarter it walks all of it (half-second stalls of the event loop at 2,000 agents)."""
    young, middle, old = gc.get_threshold()
    if young < _GC_YOUNG_THRESHOLD:
        gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)


class _Stops:
    """Turns the shutdown trigger into `abort()` / `detach()` on the supervisor, also when it
    fires before the supervisor exists (kept, then applied)."""

    def __init__(self, trigger: ShutdownTrigger | None) -> None:
        self._trigger = trigger
        self._asked: Stop | None = None
        self._supervisor: Supervisor | None = None

    async def listen(self, service: ServiceNotifier) -> None:
        if self._trigger is None:
            return
        self._asked = await self._trigger() or Stop.ABORT
        if self._asked is Stop.DETACH:
            service.stopping("detaching: every agent keeps running")
        else:
            service.stopping("aborting: cancelling every active run")
        self._apply()

    def attach(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor
        self._apply()

    def _apply(self) -> None:
        if self._supervisor is None or self._asked is None:
            return
        if self._asked is Stop.DETACH:
            self._supervisor.detach()
        else:
            self._supervisor.abort()


async def check_api_key(
    cursor: CursorSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """`GET /v1/me` before anything is launched or written: a key Cursor refuses (401/403),
    or an API that does not answer (5xx, transport, not the Cursor API), is InputError (exit 2)
    in one line, instead of every FU escalating after its retries."""
    async with build_http_client(cursor, transport=transport) as http:
        client = CursorClient.from_settings(http, cursor, backoff=KEY_CHECK_BACKOFF)
        try:
            await client.me()
        except (Unauthorized, Forbidden) as exc:
            raise InputError(
                f"{ENV_KEY}: Cursor refused the key ({exc}); nothing was launched "
                "(`orchd doctor` checks the key)"
            ) from None
        except CursorError as exc:
            raise InputError(
                f"{ENV_URL}: the Cursor API could not check the key ({exc}); nothing was "
                "launched (try again; `orchd doctor` checks the URL and the key)"
            ) from None


class _Both:
    """Fan a notification out to the webhook and an extra listener (tests, the console)."""

    def __init__(self, first: Notify, second: Notify) -> None:
        self._targets = (first, second)

    def notify(self, event: str, text: str, **fields: Any) -> None:
        for target in self._targets:
            target.notify(event, text, **fields)


# async: the display may wait for the status write that shows the question before the prompt
PauseDisplay = Callable[[], contextlib.AbstractAsyncContextManager[None]]


def build_decider(
    modes: DecisionModes, control_dir: Path, pause_display: PauseDisplay | None = None
) -> Decider:
    """Policy, `orchd decide` channel, or terminal prompt raced with it, per question kind.
    `control_dir` is the release's folder in the state dir, where `orchd decide` writes."""

    async def _prompt(question: Question) -> Answer:
        async with pause_display() if pause_display else contextlib.nullcontext():
            action, all_fus = await ask_terminal(
                question.kind, format(question.batch_id, "f"), question.reason, question.choices
            )
        return Answer(action=action, by="terminal", all_fus=all_fus)

    def for_mode(mode: str) -> Decider:
        if mode in {"abort", "skip", "fail", "continue"}:
            return PolicyDecider(on_batch_failure=mode, on_checkpoint=mode)
        channel = ChannelDecider(control_dir, deadline_s=modes.deadline_s)
        if mode == "prompt":
            return RacingDecider(channel, prompt=_prompt, deadline_s=modes.deadline_s)
        return channel

    return RoutingDecider(for_mode(modes.on_batch_failure), for_mode(modes.on_checkpoint))


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
