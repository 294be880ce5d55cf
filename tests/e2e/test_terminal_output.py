"""What a person sees of a running `orchd start`, as real processes against the fake Cursor
server: without a terminal (a service, CI), stdout says when orchd waits and the exact command
that answers it; on a terminal (a tmux pane), the live board stays within the pane and no log
line lands in it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo
from tests.e2e import test_decide_process as decide_kit
from tests.e2e.test_decide_process import (
    FAST,
    KEY,
    NO_ACCESS,
    ORCHD,
    PROCESS_TIMEOUT_S,
    RELEASE,
    StartRelease,
    _bundle,
    _env,
)

# the fixtures `orchd decide`'s process tests run releases with, reused by name
fake_cursor = decide_kit.fake_cursor
start_release = decide_kit.start_release
remote = decide_kit.remote

pytestmark = pytest.mark.slow

WAITING = re.compile(r"^waiting for you: run `(orchd decide [^`]+)` \((.+)\)$", re.MULTILINE)


def _wait_for_line(path: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes]) -> str:
    """The first line of `path` matching `pattern`, polled (bounded) while `proc` runs."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while time.monotonic() < deadline:
        found = pattern.search(path.read_text())
        if found:
            return found[0]
        assert proc.poll() is None, f"orchd start exited early:\n{path.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern.pattern} within {PROCESS_TIMEOUT_S} s")


@pytest.mark.parametrize("fake_cursor", [{"FU-000": NO_ACCESS}], indirect=True)
def test_without_a_terminal_stdout_says_orchd_waits_and_the_command_that_answers_it(
    tmp_path: Path, fake_cursor: str, start_release: StartRelease, remote: Path
) -> None:
    # FU-000 is refused at launch: batch 0 fails and orchd waits for `orchd decide`.
    repo = _bundle(tmp_path)
    started = start_release(repo, _env(fake_cursor, remote))

    line = _wait_for_line(started.stdout, WAITING, started.proc)

    state = (tmp_path / "state").resolve()  # start_release's --state-dir: decide needs it too
    assert line == (
        f"waiting for you: run `orchd decide {RELEASE} retry|fix|skip|abort --repo-root "
        f"{shlex.quote(str(repo.resolve()))} --state-dir {shlex.quote(str(state))}` "
        "(batch 0 failed)"
    )
    told = started.stdout.read_text()
    assert "batch 0 FU-000: needs_human attempt 1 — " in told  # what went wrong, just before
    assert "batch 0 failed: FU-000 needs_human" in told
    # run the command as printed, from another directory, as a person would
    matched = WAITING.search(line)
    assert matched is not None
    command = shlex.split(matched[1])
    decided = subprocess.run(
        [*ORCHD, *command[1:3], "abort", *command[4:]],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
        cwd=tmp_path,
    )
    assert decided.returncode == 0, decided.stderr
    assert started.proc.wait(timeout=PROCESS_TIMEOUT_S) == 3
    lines = started.stdout.read_text().splitlines()
    assert any(t.startswith("batch 0 failure: abort, decided by ") for t in lines)
    assert any(t.startswith(f"release {RELEASE} aborted: 0 of 28 FUs landed") for t in lines)
    # stdout is sentences; the structured log is JSON on stderr
    assert not [t for t in lines if t.startswith("{")]
    for record in started.stderr.read_text().splitlines():
        if record.startswith("{"):
            json.loads(record)
    assert KEY not in started.output()


# --- on a terminal: a tmux pane -----------------------------------------------------------------

PANE_WIDTH, PANE_HEIGHT = 100, 30
LANDED_TWO = re.compile(r"batches: ([2-9]|1\d)/14 landed")
SERVICE_VARS = ("INVOCATION_ID", "JOURNAL_STREAM", "XPC_SERVICE_NAME", "COLUMNS", "LINES")


class Pane:
    """One tmux pane on a private server whose socket is in the test's temp dir (tmux leaves
    the socket file behind when the server is killed), killed with the server after."""

    def __init__(self, command: str, env: dict[str, str], socket: Path) -> None:
        self.socket = str(socket)
        subprocess.run(
            [
                *self._tmux(),
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                str(PANE_WIDTH),
                "-y",
                str(PANE_HEIGHT),
                command,
            ],
            env=env,
            check=True,
            timeout=10,
        )

    def _tmux(self) -> list[str]:
        return ["tmux", "-S", self.socket, "-f", os.devnull]

    def capture(self, *, scrollback: bool = False) -> list[str]:
        """What the pane shows now (with `scrollback`, all it showed), trailing blanks dropped."""
        shown = subprocess.run(
            [*self._tmux(), "capture-pane", "-p", "-t", "t", *(["-S", "-"] if scrollback else [])],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
        while shown and not shown[-1].strip():
            shown.pop()
        return shown

    def height(self) -> int:
        shown = subprocess.run(
            [*self._tmux(), "display-message", "-p", "-t", "t", "#{pane_height}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return int(shown)

    def keys(self, *keys: str) -> None:
        subprocess.run([*self._tmux(), "send-keys", "-t", "t", *keys], check=True, timeout=10)

    def close(self) -> None:
        subprocess.run([*self._tmux(), "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def pane_release(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The bundled 28-FU release, its seeded remote and a fast fake Cursor server."""
    repo = _bundle(tmp_path)
    seed_repo(tmp_path / "remote.git")
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({**FAST, "fus": {}}))
    with FakeCursorProcess(api_key=KEY, scenario=scenario, start_timeout_s=15) as fake:
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
        env.update(
            CURSOR_CLOUD_API_URL=fake.url,
            CURSOR_CLOUD_API_KEY=KEY,
            REPO_URL=(tmp_path / "remote.git").as_uri(),
        )
        yield repo, env


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_on_a_terminal_the_live_board_stays_within_the_pane_and_no_log_line_lands_in_it(
    tmp_path: Path, pane_release: tuple[Path, dict[str, str]]
) -> None:
    repo, env = pane_release
    argv = [
        *ORCHD,
        "start",
        RELEASE,
        "--repo-root",
        str(repo),
        "--state-dir",
        str(tmp_path / "state"),
        "--poll-interval",
        "0.2",
        "--on-checkpoint",
        "continue",
    ]
    command = f"{shlex.join(argv)} 2>&1; echo EXIT=$?; sleep 60"
    pane = Pane(command, env, tmp_path / "tmux.sock")
    captures: list[list[str]] = []
    interrupted = False
    try:
        assert pane.height() == PANE_HEIGHT
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while time.monotonic() < deadline:
            captures.append(pane.capture())
            if any(line.startswith("EXIT=") for line in captures[-1]):
                break
            if not interrupted and LANDED_TWO.match(captures[-1][-1] if captures[-1] else ""):
                pane.keys("C-c")  # seen enough: a person stops it (SIGINT aborts)
                interrupted = True
            time.sleep(0.1)
        history = pane.capture(scrollback=True)
    finally:
        pane.close()
    end = captures[-1]
    assert "EXIT=3" in end, "\n".join(end)

    # a capture may catch a redraw half done; a whole board ends with its batches line
    boards = [c for c in captures if c and c[-1].startswith("batches: ")]
    assert len(boards) >= 3, "the live board was never whole on screen"
    for shown in boards:
        # the whole board is on screen: its title above its batches line, with the cursor's
        # line to spare, and no line wider than the pane
        titles = [i for i, line in enumerate(shown) if line.startswith(f"{RELEASE} — ")]
        assert titles, "\n".join(shown)
        assert len(shown) - titles[-1] <= PANE_HEIGHT - 1
        assert max(len(line) for line in shown) <= PANE_WIDTH
    # 28 FUs do not fit 30 rows: some are folded into one line
    assert any(re.match(r"\d+ FUs (landed|pending): ", line) for c in boards for line in c)
    # no log line on the screen at any time: neither JSON nor `[info ]` console lines
    seen = [line for c in [*captures, history] for line in c]
    assert not [line for line in seen if line.lstrip().startswith("{")]
    assert not [line for line in seen if "[info" in line or "[debug" in line]
    # what happened, told above the board, stays once the board is gone
    told = "\n".join(history)
    # (which batches land first depends on the slot policy: at least the two seen landed)
    landed = re.findall(r"^batch [0-9.]+ landed on release/v0\.1\.0 at [0-9a-f]{12}: ", told, re.M)
    assert len(landed) >= 2, told
    assert re.search(rf"^release {RELEASE} aborted: \d+ of 28 FUs landed", told, re.M), told
