"""Run a batch's gate steps (integration tests, the release gate command) as local processes.

Each step runs without a shell unless configured, in its own session so that a timeout or a
cancellation kills the whole process group (test runners spawn children). Output goes straight
into the batch's log file: nothing is buffered in memory and a chatty test cannot deadlock us.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import anyio.to_thread
import structlog
from anyio.abc import Process

from orchestrator.models.gate import GateStep, GateTestResult, GateTestStatus

log = structlog.get_logger(__name__)

SHELL = "/bin/sh"
LOG_DIR_MODE = 0o750
"""`gate_logs/`: test output can hold secrets from the environment; never world-readable."""
LOG_FILE_MODE = 0o640


def _argvs(step: GateStep, command: str) -> list[list[str]]:
    """`/bin/sh -c` only when the step asks for a shell; else plain argv (no injection).

    Without a shell, `a && b` (how a multi-line `**Command**:` block is read) is run as `a`,
    then `b` if `a` passed — never as `a` with `&&` and `b` for arguments.
    """
    if step.shell:
        return [[SHELL, "-c", command]]
    commands: list[list[str]] = [[]]
    for token in shlex.split(command):
        if token == "&&":
            commands.append([])
        else:
            commands[-1].append(token)
    return [argv for argv in commands if argv]


def _kill_group(process: Process) -> None:
    """SIGKILL the step's whole session: the runner and anything it spawned."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _log_opener(path: str, flags: int) -> int:
    """`open()`'s opener: a log file created here gets LOG_FILE_MODE (umask may narrow it)."""
    return os.open(path, flags, LOG_FILE_MODE)


def _narrow(path: Path, limit: int) -> None:
    """Take away bits beyond `limit` from a path we own (left wider by an older orchd)."""
    try:
        info = path.stat()
    except OSError:
        return
    if info.st_uid == os.geteuid() and info.st_mode & 0o777 & ~limit:
        with contextlib.suppress(OSError):
            path.chmod(info.st_mode & limit)


def _prepare_log(log_path: Path) -> None:
    """The log's folder (LOG_DIR_MODE) and file (LOG_FILE_MODE), explicitly, whatever the umask.

    `mkdir(mode)` and `open(mode)` are still narrowed by the umask, never widened: under
    umask 000 the folder is 0750 and the file 0640, under 077 they are 0700 and 0600.
    """
    missing: list[Path] = []
    folder = log_path.parent
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=LOG_DIR_MODE)
    _narrow(log_path.parent, LOG_DIR_MODE)
    os.close(_log_opener(str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    _narrow(log_path, LOG_FILE_MODE)


async def _append(log_path: Path, text: str) -> None:
    async with await anyio.open_file(log_path, "a", encoding="utf-8", opener=_log_opener) as handle:
        await handle.write(text)


def _footer(result: GateTestResult) -> str:
    code = "" if result.exit_code is None else f" exit {result.exit_code}"
    detail = f": {result.detail}" if result.detail else ""
    return (
        f"=== {result.test_id} {result.status.value}{code} "
        f"in {result.duration_s:.2f}s{detail} ===\n\n"
    )


async def _run_step(
    step: GateStep,
    *,
    workdir: Path,
    env: Mapping[str, str],
    timeout_s: float,
    log_path: Path,
) -> GateTestResult:
    header = f"=== {step.test_id} {step.name}: {step.command or '(no command)'} ===\n"
    await _append(log_path, header)
    if step.command is None:
        return GateTestResult(
            step.test_id, GateTestStatus.NOT_RUN, log=str(log_path), detail="no test command"
        )
    try:
        argvs = _argvs(step, step.command)
    except ValueError as exc:  # unbalanced quotes
        return _error(step, log_path, f"cannot parse command: {_one_line(exc)}")
    if not argvs:
        return _error(step, log_path, "empty command")
    if not await anyio.Path(workdir).is_dir():
        return _error(step, log_path, f"workdir {workdir} is not a directory")

    started = anyio.current_time()
    result: GateTestResult | None = None
    for argv in argvs:
        remaining_s = timeout_s - (anyio.current_time() - started)
        result = await _run_argv(step, argv, workdir, env, remaining_s, timeout_s, log_path)
        if result.status is not GateTestStatus.PASSED:
            break
    assert result is not None
    return GateTestResult(
        result.test_id,
        result.status,
        duration_s=anyio.current_time() - started,
        exit_code=result.exit_code,
        log=result.log,
        detail=result.detail,
    )


async def _run_argv(
    step: GateStep,
    argv: list[str],
    workdir: Path,
    env: Mapping[str, str],
    remaining_s: float,
    timeout_s: float,
    log_path: Path,
) -> GateTestResult:
    """One process of a step, its output appended to the log, killed at the step's deadline."""
    started = anyio.current_time()
    async with await anyio.open_file(log_path, "ab", opener=_log_opener) as out:
        try:
            process = await anyio.open_process(
                argv,
                cwd=workdir,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out.wrapped,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError:
            return _error(step, log_path, f"command not found: {argv[0]}")
        except PermissionError:
            return _error(step, log_path, f"not executable: {argv[0]}")
        except OSError as exc:
            return _error(step, log_path, f"cannot start {argv[0]}: {_one_line(exc)}")
        try:
            with anyio.move_on_after(max(remaining_s, 0.0)) as scope:
                await process.wait()
        except BaseException:
            # Cancelled (release aborted, batch stopped): leave nothing running behind us.
            _kill_group(process)
            with anyio.CancelScope(shield=True):
                await process.aclose()
            raise
        # Also reaps stragglers a finished step left in its session (background servers).
        _kill_group(process)
        with anyio.CancelScope(shield=True):
            await process.aclose()
    duration_s = anyio.current_time() - started
    if scope.cancelled_caught:
        return GateTestResult(
            step.test_id,
            GateTestStatus.TIMEOUT,
            duration_s=duration_s,
            log=str(log_path),
            detail=f"killed after {timeout_s:g}s",
        )
    code = process.returncode
    status = GateTestStatus.PASSED if code == 0 else GateTestStatus.FAILED
    return GateTestResult(
        step.test_id, status, duration_s=duration_s, exit_code=code, log=str(log_path)
    )


def _error(step: GateStep, log_path: Path, detail: str) -> GateTestResult:
    return GateTestResult(step.test_id, GateTestStatus.ERROR, log=str(log_path), detail=detail)


async def run_gate(
    steps: Sequence[GateStep],
    *,
    workdir: Path,
    env: Mapping[str, str],
    timeout_s: float,
    log_path: Path,
) -> list[GateTestResult]:
    """Run `steps` one after another; every outcome is a result, only cancellation escapes.

    `env` is the complete environment of each command (the caller merges os.environ with
    ORCHD_RELEASE_ID, ORCHD_BATCH_ID, ORCHD_FU_BRANCHES). Output is appended to `log_path`.
    """
    await anyio.to_thread.run_sync(_prepare_log, log_path)
    results: list[GateTestResult] = []
    for step in steps:
        result = await _run_step(
            step, workdir=workdir, env=env, timeout_s=timeout_s, log_path=log_path
        )
        await _append(log_path, _footer(result))
        log.info(
            "gate.step_done",
            test_id=step.test_id,
            status=result.status.value,
            exit_code=result.exit_code,
            duration_s=round(result.duration_s, 3),
            detail=result.detail or None,
        )
        results.append(result)
    return results
