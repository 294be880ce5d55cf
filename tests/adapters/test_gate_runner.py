"""The gate runner runs real tiny commands: status, exit code, env, log file, timeouts."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import anyio
import pytest

from orchestrator.adapters.gate_runner import run_gate
from orchestrator.models.gate import GateStep
from orchestrator.models.gate import GateTestStatus as Status

pytestmark = pytest.mark.asyncio

PY = shlex.quote(sys.executable)


def py(code: str) -> str:
    return f"{PY} -c {shlex.quote(code)}"


def is_gone(pid: int) -> bool:
    """Dead or a zombie: a killed orphan may wait for init to reap it, but it runs no more."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


async def wait_gone(pid: int) -> bool:
    """SIGKILL is delivered asynchronously; allow the kernel a moment, bounded."""
    for _ in range(200):
        if is_gone(pid):
            return True
        await anyio.sleep(0.01)
    return False


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


async def test_passing_failing_and_commandless_steps_each_get_their_status(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "logs" / "batch-0.5.log"
    steps = [
        GateStep("IT-001", "passes", py("print('hello from IT-001')")),
        GateStep("IT-002", "fails", "sh -c 'echo broken >&2; exit 3'"),
        GateStep("IT-003", "no command yet", None),
    ]
    results = await run_gate(steps, workdir=tmp_path, env=env(), timeout_s=10, log_path=log_path)

    assert [r.status for r in results] == [Status.PASSED, Status.FAILED, Status.NOT_RUN]
    assert [r.exit_code for r in results] == [0, 3, None]
    assert all(r.log == str(log_path) for r in results)
    text = log_path.read_text()
    assert f"=== IT-001 passes: {steps[0].command} ===" in text
    assert "hello from IT-001" in text
    assert "=== IT-002 fails: sh -c 'echo broken >&2; exit 3' ===" in text
    assert "broken" in text  # stderr is captured too
    assert "=== IT-002 failed exit 3 in " in text
    assert "=== IT-003 not_run" in text


async def test_command_sees_the_environment_it_is_given_and_runs_in_workdir(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    code = (
        "import os; print('batch=' + os.environ['ORCHD_BATCH_ID']);"
        "print('branches=' + os.environ['ORCHD_FU_BRANCHES']); print('cwd=' + os.getcwd())"
    )
    log_path = tmp_path / "gate.log"
    results = await run_gate(
        [GateStep("gate", "release gate command", py(code))],
        workdir=workdir,
        env=env(ORCHD_BATCH_ID="0.5", ORCHD_FU_BRANCHES="fu-1 fu-2"),
        timeout_s=10,
        log_path=log_path,
    )
    assert results[0].status is Status.PASSED
    text = log_path.read_text()
    assert "batch=0.5" in text
    assert "branches=fu-1 fu-2" in text
    assert f"cwd={workdir.resolve()}" in text


async def test_without_shell_metacharacters_are_plain_arguments(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    command = py("import sys; print(sys.argv[1:])") + f" ';' touch {marker}"
    log_path = tmp_path / "gate.log"
    results = await run_gate(
        [GateStep("IT-001", "argv", command)],
        workdir=tmp_path,
        env=env(),
        timeout_s=10,
        log_path=log_path,
    )
    assert results[0].status is Status.PASSED
    assert not marker.exists()
    assert f"[';', 'touch', '{marker}']" in log_path.read_text()


async def test_shell_step_runs_through_bin_sh(tmp_path: Path) -> None:
    log_path = tmp_path / "gate.log"
    results = await run_gate(
        [GateStep("gate", "shell", "echo one && echo two | tr a-z A-Z", shell=True)],
        workdir=tmp_path,
        env=env(),
        timeout_s=10,
        log_path=log_path,
    )
    assert results[0].status is Status.PASSED
    assert "one\nTWO\n" in log_path.read_text()


async def test_slow_step_times_out_and_its_children_are_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The shell spawns a grandchild sleeper; killing only the shell would leave it running.
    command = f"sleep 30 & echo $! > {pid_file}; wait"
    log_path = tmp_path / "gate.log"
    started = anyio.current_time()
    results = await run_gate(
        [GateStep("IT-009", "hangs", command, shell=True), GateStep("IT-010", "next", "true")],
        workdir=tmp_path,
        env=env(),
        timeout_s=0.5,
        log_path=log_path,
    )
    assert anyio.current_time() - started < 5
    assert results[0].status is Status.TIMEOUT
    assert results[0].duration_s >= 0.5
    assert results[1].status is Status.PASSED  # the gate goes on to the next step
    assert "=== IT-009 timeout in " in log_path.read_text()
    assert await wait_gone(int(pid_file.read_text()))


async def test_missing_command_and_bad_workdir_are_errors_with_one_line(tmp_path: Path) -> None:
    log_path = tmp_path / "gate.log"
    results = await run_gate(
        [
            GateStep("IT-001", "missing", "orchd-no-such-command --flag"),
            GateStep("IT-002", "quotes", "echo 'unbalanced"),
        ],
        workdir=tmp_path,
        env=env(),
        timeout_s=10,
        log_path=log_path,
    )
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR]
    assert results[0].detail == "command not found: orchd-no-such-command"
    assert results[1].detail.startswith("cannot parse command: ")
    assert all("\n" not in r.detail for r in results)
    assert "command not found: orchd-no-such-command" in log_path.read_text()

    gone = tmp_path / "gone"
    bad = await run_gate(
        [GateStep("IT-003", "cwd", "true")],
        workdir=gone,
        env=env(),
        timeout_s=10,
        log_path=log_path,
    )
    assert bad[0].status is Status.ERROR
    assert bad[0].detail == f"workdir {gone} is not a directory"


async def test_cancelling_the_gate_kills_the_running_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    log_path = tmp_path / "gate.log"
    command = f"echo $$ > {pid_file}; exec sleep 30"
    with anyio.move_on_after(0.5) as scope:
        await run_gate(
            [GateStep("IT-001", "hangs", command, shell=True)],
            workdir=tmp_path,
            env=env(),
            timeout_s=60,
            log_path=log_path,
        )
    assert scope.cancelled_caught
    assert await wait_gone(int(pid_file.read_text()))


@pytest.mark.asyncio
async def test_a_multi_line_command_block_runs_each_line_and_stops_at_the_first_failure(
    tmp_path: Path,
) -> None:
    log = tmp_path / "gate.log"
    marker = tmp_path / "third-ran"
    steps = [
        GateStep("IT-001", "build then test", f"{py('print(1)')} && {py('print(2)')}"),
        GateStep(
            "IT-002",
            "second line fails",
            f"{py('print(1)')} && sh -c 'exit 4' && touch {shlex.quote(str(marker))}",
        ),
    ]
    passed, failed = await run_gate(steps, workdir=tmp_path, env=env(), timeout_s=20, log_path=log)
    assert passed.status is Status.PASSED
    assert (failed.status, failed.exit_code) == (Status.FAILED, 4)
    assert not marker.exists()


async def test_gate_logs_are_private_even_under_umask_000(tmp_path: Path) -> None:
    """Issue 9: `gate_logs/` was created 0777 and its logs 0666 (world-writable) under umask 000."""
    log_path = tmp_path / "release" / "gate_logs" / "batch-0.log"
    old = os.umask(0)
    try:
        await run_gate(
            [GateStep("IT-001", "passes", "true")],
            workdir=tmp_path,
            env=env(),
            timeout_s=10,
            log_path=log_path,
        )
    finally:
        os.umask(old)
    assert log_path.parent.stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "release").stat().st_mode & 0o777 == 0o750
    assert log_path.stat().st_mode & 0o777 == 0o640


async def test_a_umask_narrower_than_the_log_modes_is_kept(tmp_path: Path) -> None:
    log_path = tmp_path / "gate_logs" / "batch-0.log"
    old = os.umask(0o077)
    try:
        await run_gate(
            [GateStep("IT-001", "passes", "true")],
            workdir=tmp_path,
            env=env(),
            timeout_s=10,
            log_path=log_path,
        )
    finally:
        os.umask(old)
    assert log_path.parent.stat().st_mode & 0o777 == 0o700
    assert log_path.stat().st_mode & 0o777 == 0o600


async def test_a_log_folder_left_world_writable_is_narrowed(tmp_path: Path) -> None:
    """A `gate_logs/` an older orchd created 0777 (and its logs 0666) is tightened on next use."""
    log_path = tmp_path / "gate_logs" / "batch-0.log"
    log_path.parent.mkdir()
    log_path.parent.chmod(0o777)
    log_path.write_text("old run\n")
    log_path.chmod(0o666)
    await run_gate(
        [GateStep("IT-001", "passes", "true")],
        workdir=tmp_path,
        env=env(),
        timeout_s=10,
        log_path=log_path,
    )
    assert log_path.parent.stat().st_mode & 0o777 == 0o750
    assert log_path.stat().st_mode & 0o777 == 0o640
    assert log_path.read_text().startswith("old run\n")
