"""The service files in deploy/ work as shipped: the systemd unit passes `systemd-analyze verify`
pointing at the real orchd, the launchd plist is valid and keeps secrets out, and the launchd
wrapper reads a private env file, runs orchd with it and tells launchd when to restart."""

from __future__ import annotations

import os
import plistlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import ExitCode

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "orchd@.service"
PLIST = DEPLOY / "com.orchd.release.plist"
WRAPPER = DEPLOY / "orchd-launchd.sh"
SHIPPED_ORCHD = "/opt/orchd/.venv/bin/orchd"


def _service_keys(text: str) -> dict[str, list[str]]:
    """`Key=value` lines of the unit's [Service] section (a key may repeat)."""
    keys: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys.setdefault(key, []).append(value)
    return keys


def _real_orchd() -> Path:
    """The `orchd` entry point of the environment running the tests (the venv's)."""
    beside = Path(sys.executable).with_name("orchd")
    found = beside if beside.exists() else Path(shutil.which("orchd") or "")
    assert found.is_file(), "no orchd entry point next to the test interpreter"
    return found


def test_the_systemd_unit_pointing_at_the_real_orchd_passes_systemd_analyze_verify(
    tmp_path: Path,
) -> None:
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not Path(analyze).exists():
        pytest.skip("systemd-analyze is not installed (apt install systemd)")
    text = UNIT.read_text()
    assert text.count(SHIPPED_ORCHD) == 2  # ExecStart and ExecReload
    unit = tmp_path / "orchd@v0.1.1.service"
    unit.write_text(text.replace(SHIPPED_ORCHD, str(_real_orchd())))
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    # verify exits 0 even for unknown keys or bad values: what it says about the unit counts
    about_unit = [line for line in (done.stdout + done.stderr).splitlines() if "orchd" in line]
    assert done.returncode == 0, done.stderr
    assert about_unit == []


def test_the_systemd_unit_is_a_notify_service_that_restarts_only_abnormal_ends() -> None:
    keys = _service_keys(UNIT.read_text())
    assert keys["Type"] == ["notify"]
    assert keys["NotifyAccess"] == ["main"]
    assert keys["WatchdogSec"]
    assert keys["Restart"] == ["on-abnormal"]
    # `systemctl stop` (abort) and `systemctl reload` (detach) do not leave the unit failed
    assert keys["SuccessExitStatus"] == [f"{int(ExitCode.ABORTED)} {int(ExitCode.DETACHED)}"]
    assert keys["ExecReload"][0].split()[1:3] == ["detach", "%i"]
    assert keys["ExecStart"][0].split()[1:3] == ["start", "%i"]
    assert keys["StateDirectory"] == ["orchd"]
    assert keys["EnvironmentFile"] == ["/etc/orchd/env"]
    assert keys["ReadWritePaths"] == ["/srv/neotoma/docs/releases"]
    # a stream per agent: thousands of connections, not systemd's default soft limit of 1024
    assert int(keys["LimitNOFILE"][0]) >= 8192
    assert "CURSOR_CLOUD_API_KEY=" not in "".join(keys.get("Environment", []))


def test_the_launchd_plist_runs_orchd_through_the_wrapper_and_holds_no_secret() -> None:
    data = plistlib.loads(PLIST.read_bytes())
    argv = data["ProgramArguments"]
    assert argv[0].endswith("/orchd-launchd.sh")
    assert argv[1].endswith("/env")
    assert argv[2].endswith("/orchd")
    assert argv[3:5] == ["start", "v0.1.1"]
    path = data["EnvironmentVariables"]["PATH"].split(":")
    assert {"/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin"} <= set(path)
    assert data["KeepAlive"] == {"SuccessfulExit": False}
    assert data["RunAtLoad"] is True
    assert "CURSOR_CLOUD_API_KEY" not in data["EnvironmentVariables"]


# --- the launchd wrapper ------------------------------------------------------------------------

FAKE_ORCHD = """#!/bin/sh
# stands in for orchd: shows what it got, then does what its first argument says
echo "args: $*"
echo "key=$CURSOR_CLOUD_API_KEY url=$REPO_URL quoted=$QUOTED"
case "$1" in
    exit) exit "$2" ;;
    crash) kill -9 $$ ;;
    serve)
        trap 'echo "got USR1" >> "$3"; exit 5' USR1
        trap 'echo "got TERM" >> "$3"; exit 3' TERM
        : > "$2"
        while :; do sleep 0.05; done
        ;;
esac
"""

ENV_TEXT = """# orchd's secrets
CURSOR_CLOUD_API_KEY=key_live_123$HOME

REPO_URL=https://github.com/owner/neotoma
QUOTED="two words"
"""


def _setup(tmp_path: Path, mode: int = 0o600, env_text: str = ENV_TEXT) -> tuple[Path, Path]:
    orchd = tmp_path / "orchd"
    orchd.write_text(FAKE_ORCHD)
    orchd.chmod(0o755)
    env_file = tmp_path / "env"
    env_file.write_text(env_text)
    env_file.chmod(mode)
    return orchd, env_file


def _wrap(*argv: str | Path | int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(WRAPPER), *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k not in {"CURSOR_CLOUD_API_KEY", "REPO_URL"}},
    )


def test_the_wrapper_runs_orchd_with_the_env_file_and_ends_cleanly_on_its_exit_code(
    tmp_path: Path,
) -> None:
    orchd, env_file = _setup(tmp_path)
    done = _wrap(env_file, orchd, "exit", int(ExitCode.ABORTED))
    assert done.stdout.splitlines() == [
        "args: exit 3",
        "key=key_live_123$HOME url=https://github.com/owner/neotoma quoted=two words",
    ]
    # a deliberate end of orchd: exit 0, so launchd (KeepAlive SuccessfulExit=false) leaves it
    assert done.returncode == 0
    assert done.stderr == (
        "orchd-launchd: orchd exited 3 (README: Exit codes); launchd leaves it stopped\n"
    )


def test_the_wrapper_exits_non_zero_when_orchd_is_killed_so_launchd_restarts_it(
    tmp_path: Path,
) -> None:
    orchd, env_file = _setup(tmp_path)
    done = _wrap(env_file, orchd, "crash")
    assert done.returncode == 128 + signal.SIGKILL
    assert "orchd was killed by signal 9; launchd starts it again" in done.stderr


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620], ids=oct)
def test_the_wrapper_refuses_an_env_file_others_can_read_in_one_line(
    tmp_path: Path, mode: int
) -> None:
    orchd, env_file = _setup(tmp_path, mode)
    done = _wrap(env_file, orchd, "exit", 0)
    assert done.stdout == ""  # orchd never ran
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"orchd-launchd: {env_file}: readable or writable by group or")
    assert lines[0].endswith(f"chmod 600 {env_file}")
    assert done.returncode == 78


def test_the_wrapper_names_the_line_of_the_env_file_it_cannot_read(tmp_path: Path) -> None:
    orchd, env_file = _setup(tmp_path, env_text="REPO_URL=x\nexport CURSOR_CLOUD_API_KEY=k\n")
    done = _wrap(env_file, orchd, "exit", 0)
    assert done.stdout == ""
    assert done.stderr == f"orchd-launchd: {env_file}:2: not a KEY=value line\n"
    assert done.returncode == 78


@pytest.mark.parametrize(
    ("sig", "heard", "code"), [(signal.SIGUSR1, "got USR1", 5), (signal.SIGTERM, "got TERM", 3)]
)
def test_the_wrapper_passes_launchds_signals_on_to_orchd(
    tmp_path: Path, sig: signal.Signals, heard: str, code: int
) -> None:
    orchd, env_file = _setup(tmp_path)
    ready, seen = tmp_path / "ready", tmp_path / "seen"
    proc = subprocess.Popen(
        ["/bin/sh", str(WRAPPER), str(env_file), str(orchd), "serve", str(ready), str(seen)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None, "the wrapper exited before orchd started"
            assert time.monotonic() < deadline, "orchd never started"
            time.sleep(0.02)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen.read_text() == f"{heard}\n"
    assert proc.returncode == 0
    assert f"orchd exited {code}" in err
