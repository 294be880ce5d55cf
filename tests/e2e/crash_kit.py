"""Plumbing for the kill -9 tests (test_crash_restart.py): a small release on disk, traps that
SIGKILL orchd at an exact push or gate run, and readers for what the remote and the fake hold.

Every trap is armed once: it counts the occurrences it watches in a file, kills orchd (the pid
in the release lock, `orchd.pid` in its state dir) at the Nth, leaves a `fired` file and is
inert from then on, so the restarted orchd runs untouched.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

RELEASE = "v7.1.0"
# batch → FUs, in schedule order. FU-201 needs FU-101 (landed, another batch); FU-202 needs
# FU-201 (same batch: it starts from the candidate holding FU-201); FU-301 needs FU-202. FU-102
# and FU-302 need nothing: FU-302 is delivered and merged into batch 3's candidate long before
# batch 3 can land, so that candidate is rebuilt on the moved release branch when it does.
BATCHES: dict[str, tuple[str, ...]] = {
    "1": ("FU-101", "FU-102"),
    "2": ("FU-201", "FU-202"),
    "3": ("FU-301", "FU-302"),
}
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "FU-101": (),
    "FU-102": (),
    "FU-201": ("FU-101",),
    "FU-202": ("FU-201",),
    "FU-301": ("FU-202",),
    "FU-302": (),
}
FUS = tuple(DEPENDENCIES)
CANDIDATE_REFS = "refs/heads/orchd/*/cand/*"
RELEASE_REFS = "refs/heads/release/*"
ZERO = "0" * 40
Hook = Literal["pre-receive", "post-receive"]
HOOKS: tuple[Hook, Hook] = ("pre-receive", "post-receive")


# --- the release ------------------------------------------------------------------------------


def write_release(repo_root: Path) -> Path:
    """manifest.yaml + execution_schedule.md for RELEASE under `repo_root`; returns the status
    file orchd will write (the release dir's agent_status.json)."""
    folder = repo_root / "docs" / "releases" / "in_progress" / RELEASE
    folder.mkdir(parents=True)
    units = "".join(
        f'  - id: "{fu}"\n'
        f'    name: "{fu} crash test unit"\n'
        '    priority: "P0"\n'
        '    risk_level: "low"\n'
        f"    dependencies: {_yaml_list(deps)}\n"
        for fu, deps in DEPENDENCIES.items()
    )
    batches = "".join(
        f"    - batch_id: {batch}\n"
        f"      feature_units: {_yaml_list(fus)}\n"
        "      dependencies: []\n"  # batch-wide ones would hold FU-302 back
        for batch, fus in BATCHES.items()
    )
    (folder / "manifest.yaml").write_text(
        "release:\n"
        f'  id: "{RELEASE}"\n'
        '  name: "Crash restart"\n'
        '  status: "in_progress"\n'
        "execution_strategy:\n"
        '  type: "multi_agent"\n'
        "  max_parallel_fus: 3\n"
        "  max_high_risk_in_parallel: 1\n"
        "  poll_interval_s: 0.05\n"
        "  gate_shell: true\n"
        "  agent_spawning:\n"
        "    enabled: true\n"
        '    status_tracking: "file"\n'
        f"feature_units:\n{units}"
        f"execution_schedule:\n  batches:\n{batches}"
    )
    rows = "".join(
        f"| {batch} | {', '.join(fus)} | None | Yes | Low |\n" for batch, fus in BATCHES.items()
    )
    (folder / "execution_schedule.md").write_text(
        f"## Release {RELEASE} — Execution Schedule\n\n"
        "### 1. Batch Overview\n\n"
        "| Batch ID | Feature Units | Dependencies | Can Parallelize? | Estimated Effort |\n"
        "| -------- | ------------- | ------------ | ---------------- | ---------------- |\n"
        f"{rows}"
    )
    return folder / "agent_status.json"


def _yaml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


# --- traps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trap:
    """Where a trap keeps its count, its `fired` mark and a log of what it saw."""

    folder: Path

    @property
    def count_file(self) -> Path:
        return self.folder / "count"

    @property
    def fired_file(self) -> Path:
        return self.folder / "fired"

    @property
    def log_file(self) -> Path:
        return self.folder / "log"

    def count(self) -> int:
        return int(self.count_file.read_text()) if self.count_file.exists() else 0

    def fired(self) -> bool:
        return self.fired_file.exists()

    def log(self) -> list[str]:
        return self.log_file.read_text().splitlines() if self.log_file.exists() else []


@dataclass(frozen=True)
class PushTrap:
    """Kill orchd in `hook` at the `nth` push moving a ref that matches the glob `refs` (a
    deletion never counts); with `fu`, only pushes of that FU's merge commit (its `Orchd-FU`
    trailer) count. pre-receive then refuses the push, so the ref never moves; post-receive runs
    once the ref moved, before orchd can hear that it did."""

    hook: Hook
    refs: str
    nth: int
    trap: Trap
    fu: str | None = None


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def _kill_function(lock: Path, trap: Trap) -> str:
    """Shell function `kill_orchd`: SIGKILL the pid in the release lock, then wait until it is
    gone or a zombie (the test reaps it), so nothing orchd does can follow the kill."""
    return (
        "kill_orchd() {\n"
        f"  pid=$(cat {_q(lock)})\n"
        f"  : > {_q(trap.fired_file)}\n"
        '  kill -9 "$pid"\n'
        "  tries=0\n"
        '  while [ -d "/proc/$pid" ] && '
        """[ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -c1)" != Z ]; do\n"""
        "    tries=$((tries + 1))\n"
        '    [ "$tries" -gt 500 ] && break\n'
        "    sleep 0.01\n"
        "  done\n"
        f'  echo "killed orchd $pid" >> {_q(trap.log_file)}\n'
        "}\n"
    )


def install_hook(
    bare: Path, hook: Hook, *, pushes: Path, lock: Path, armed: PushTrap | None = None
) -> None:
    """`hook` in the bare remote: logs every ref update it sees to `pushes` (`<hook> <ref> <old>
    <new>`), and springs `armed` if given (killing the orchd whose pid is in `lock`)."""
    script = (
        "#!/bin/sh\n"
        f"# orchd crash test: {hook} push log"
        + (f", SIGKILL at push #{armed.nth} to {armed.refs}" if armed else "")
        + "\n"
    )
    if armed is None:
        script += (
            f'while read -r old new ref; do echo "{hook} $ref $old $new" >> {_q(pushes)}; done\n'
        )
    else:
        armed.trap.folder.mkdir(parents=True, exist_ok=True)
        fu_filter = (
            "  fu=$(git log -1 --format='%(trailers:key=Orchd-FU,valueonly)' \"$new\")\n"
            f'  [ "$fu" = {shlex.quote(armed.fu)} ] || continue\n'
            if armed.fu
            else ""
        )
        script += (
            _kill_function(lock, armed.trap) + "fire=''\n"
            "while read -r old new ref; do\n"
            f'  echo "{hook} $ref $old $new" >> {_q(pushes)}\n'
            f"  [ -e {_q(armed.trap.fired_file)} ] && continue\n"
            f'  [ "$new" = {ZERO} ] && continue\n'
            '  case "$ref" in\n'
            f"    {armed.refs}) ;;\n"
            "    *) continue ;;\n"
            "  esac\n"
            + fu_filter
            + f"  n=$(( $(cat {_q(armed.trap.count_file)} 2>/dev/null || echo 0) + 1 ))\n"
            f'  echo "$n" > {_q(armed.trap.count_file)}\n'
            f'  echo "$n {hook} $ref $old $new" >> {_q(armed.trap.log_file)}\n'
            f'  [ "$n" -eq {armed.nth} ] && fire=1\n'
            "done\n"
            '[ -n "$fire" ] || exit 0\n'
            "kill_orchd\n"
            f"exit {1 if hook == 'pre-receive' else 0}\n"
        )
    path = bare / "hooks" / hook
    path.write_text(script)
    path.chmod(0o755)
    # a core.hooksPath in someone's global git config must not bypass the traps
    git(bare, "config", "core.hooksPath", str(bare / "hooks"))


def write_gate(path: Path, *, lock: Path, trap: Trap, nth: int | None, runs_log: Path) -> str:
    """The release gate command (run through /bin/sh -c, cwd = the candidate's worktree): logs
    `<run number> <batch> <commit> <cwd>` to `runs_log` and runs the project's tests; on run
    #`nth` it SIGKILLs orchd mid-gate instead. Returns the command line for `--gate-command`."""
    trap.folder.mkdir(parents=True, exist_ok=True)
    kill = (
        f'if [ ! -e {_q(trap.fired_file)} ] && [ "$n" -eq {nth} ]; then\n'
        "  kill_orchd\n"
        "  exit 1\n"
        "fi\n"
        if nth is not None
        else ""
    )
    path.write_text(
        "#!/bin/sh\n"
        "# orchd crash test: the release gate\n"
        + _kill_function(lock, trap)
        + f"n=$(( $(cat {_q(trap.count_file)} 2>/dev/null || echo 0) + 1 ))\n"
        f'echo "$n" > {_q(trap.count_file)}\n'
        f'echo "$n $ORCHD_BATCH_ID $ORCHD_GATE_SHA $PWD" >> {_q(runs_log)}\n'
        + kill
        + "exec sh tests/run.sh\n"
    )
    path.chmod(0o755)
    return shlex.quote(str(path))


# --- what the remote holds --------------------------------------------------------------------


def git(git_dir: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    return done.stdout


def release_merges(bare: Path) -> list[tuple[str, str, str]]:
    """(commit, Orchd-FU, Orchd-Release) of each commit on the release branch's first-parent
    line that carries an `Orchd-FU` trailer, newest first (read by git, not by orchd)."""
    out = git(
        bare,
        "log",
        "--first-parent",
        "--format=%H%x00%(trailers:key=Orchd-FU,valueonly,separator=%x2C)"
        "%x00%(trailers:key=Orchd-Release,valueonly,separator=%x2C)%x00",
        f"refs/heads/release/{RELEASE}",
    )
    fields = [f.strip() for f in out.split("\0")]
    rows = [(fields[i], fields[i + 1], fields[i + 2]) for i in range(0, len(fields) - 2, 3)]
    return [row for row in rows if row[1]]


def first_parent_line(bare: Path) -> list[str]:
    return git(bare, "rev-list", "--first-parent", f"refs/heads/release/{RELEASE}").split()


def moved_refs(pushes: Path, prefix: str) -> dict[str, list[str]]:
    """Per run (the log is split by `--- <run>` lines), the refs starting with `prefix` that its
    pushes created or moved (post-receive lines; deletions left out)."""
    runs: dict[str, list[str]] = {}
    current = runs.setdefault("", [])
    for line in pushes.read_text().splitlines() if pushes.exists() else []:
        if line.startswith("--- "):
            current = runs.setdefault(line.removeprefix("--- "), [])
            continue
        hook, ref, _old, new = line.split()
        if hook == "post-receive" and ref.startswith(prefix) and new != ZERO:
            current.append(ref)
    return runs


# --- what the fake saw ------------------------------------------------------------------------


def fake_get(root: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(root + path, timeout=10) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


def fake_reset(root: str, scenario: dict[str, Any]) -> None:
    """Forget every agent and run; from now on the fake plays `scenario`."""
    body = json.dumps(scenario).encode()
    request = urllib.request.Request(root + "/_fake/reset", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        resp.read()


def agents_by_fu(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """`/_fake/git`'s agents grouped by FU."""
    found: dict[str, list[dict[str, Any]]] = {}
    for agent in report["agents"]:
        found.setdefault(str(agent["fu"]), []).append(agent)
    return found


# --- processes --------------------------------------------------------------------------------


def processes_mentioning(needle: str, *, exclude: set[int]) -> list[str]:
    """`pid: cmdline` of live (non-zombie) processes whose command line contains `needle`."""
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude | {os.getpid()}:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        cmdline = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        if needle in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline}")
    return found
