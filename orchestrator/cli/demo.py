"""`orchd demo`: a real release end to end against the built-in fake Cursor server.

Copies neotoma's v0.1.0 release (bundled, MIT) into a fresh directory, seeds a throwaway bare
git repo there (the "remote"), starts `orchd fake-cursor` as a separate process on a free
loopback port, and runs `orchd start` on the copy through the same code path a user runs, over
HTTP. The fake agents clone the remote and push a branch each; orchd merges them into
`release/v0.1.0` batch by batch, gating each batch with the seed project's tests. Needs only
Python and git.
"""

from __future__ import annotations

import os
import select
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.options import fail
from orchestrator.errors import InputError, OrchdError

DEMO_RELEASE = "v0.1.0"
DEMO_KEY = "demo-key-not-a-secret"
DEMO_BRANCH = f"release/{DEMO_RELEASE}"
REMOTE_DIR = "remote.git"
STATE_DIR = "state"


def _copy_bundle(target: Path) -> Path:
    import shutil
    from importlib import resources

    bundle = resources.files("orchestrator").joinpath("data/demo")
    with resources.as_file(bundle) as source:
        shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def _fake_stats(base_url: str) -> dict[str, Any]:
    import json
    import urllib.request

    url = base_url.removesuffix("/v1") + "/_fake/stats"
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def _check_git() -> None:
    """The demo's only other requirement: git new enough for orchd's merge queue."""
    import anyio

    from orchestrator.adapters.git import MIN_GIT, GitError, git_version

    try:
        found = anyio.run(git_version)
    except GitError as exc:
        raise InputError(f"orchd demo needs git {'.'.join(map(str, MIN_GIT))}+: {exc}") from None
    if found < MIN_GIT:
        raise InputError(
            f"orchd demo needs git {'.'.join(map(str, MIN_GIT))}+ "
            f"(found {'.'.join(map(str, found))})"
        )


def _workdir(workdir: Path | None) -> Path:
    if workdir is None:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="orchd-demo-"))
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise InputError(
            f"--workdir {workdir}: must be empty or absent (the demo seeds a fresh repo there)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir.resolve()


def _first_parent_log(remote: Path) -> list[str]:
    """`git log --first-parent --oneline release/v0.1.0` of the demo remote, [] if absent."""
    import anyio

    from orchestrator.adapters.git import run_git

    async def read() -> str:
        result = await run_git(
            [
                f"--git-dir={remote}",
                "log",
                "--first-parent",
                "--oneline",
                "--no-decorate",
                DEMO_BRANCH,
                "--",
            ],
            cwd=None,
            timeout_s=30.0,
            ok_codes=(0, 128),
        )
        return result.stdout if result.code == 0 else ""

    return anyio.run(read).splitlines()


def _print_branch(remote: Path) -> None:
    lines = _first_parent_log(remote)
    if not lines:
        typer.echo(f"{DEMO_BRANCH}: not on the demo remote {remote}")
        return
    merges = sum(1 for line in lines if " Merge FU-" in line)
    typer.echo(
        f"{DEMO_BRANCH} on the demo remote ({merges} FU merges; "
        f"git --git-dir {remote} log --first-parent --oneline {DEMO_BRANCH}):"
    )
    for line in lines:
        typer.echo(f"  {line}")


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option(help="Where to copy the demo release; empty or absent (default: a temp dir)."),
    ] = None,
    live: Annotated[
        bool | None, typer.Option("--live/--plain", help="Live table (default on a TTY).")
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level for stderr: debug, info, warning, error.")
    ] = "error",
    log_format: Annotated[
        str | None,
        typer.Option(help="json or console (default: console on a terminal, else JSON)."),
    ] = None,
) -> None:
    """Run neotoma's v0.1.0 release end to end against the fake Cursor server over loopback."""
    from orchestrator.cli.start import run_prepared, setup_output
    from orchestrator.daemon import prepare_start
    from orchestrator.engine.configure import Overrides
    from orchestrator.fakecursor.process import FakeCursorProcess
    from orchestrator.fakecursor.seed_repo import seed_repo

    live = setup_output(live, log_level, log_format, default_level=log_level)
    try:
        _check_git()
        root = _copy_bundle(_workdir(workdir))
    except OrchdError as exc:
        raise fail(exc) from None
    remote = root / REMOTE_DIR
    repo_url = seed_repo(remote, project="neotoma-demo")
    typer.echo(f"demo repo: {root}")
    typer.echo(f"demo remote: {repo_url} (branch main; orchd builds {DEMO_BRANCH} there)")
    fake = FakeCursorProcess(api_key=DEMO_KEY, scenario=root / "scenario.yaml")
    base_url = fake.url
    typer.echo(f"fake Cursor server: {base_url} (pid {fake.proc.pid})")
    dashboard = _start_dashboard(root)
    try:
        env = {
            **os.environ,
            "CURSOR_CLOUD_API_URL": base_url,
            "CURSOR_CLOUD_API_KEY": DEMO_KEY,
            "REPO_URL": repo_url,
            "RELEASE_BRANCH": "main",
        }
        try:
            prepared = prepare_start(
                DEMO_RELEASE,
                repo_root=root,
                release_dir=None,
                strategy=None,
                strict=False,
                overrides=Overrides(
                    poll_interval_s=0.2,
                    stale_after_minutes=0.25,
                    max_duration_minutes=1.0,
                    retry_backoff_s=0.5,
                    on_checkpoint="continue",
                    on_batch_failure="abort",
                    state_dir=root / STATE_DIR,
                ),
                prompt_template=None,
                env=env,
            )
        except OrchdError as exc:
            raise fail(exc) from None
        where = f"--repo-root {shlex.quote(str(root))}"
        code = run_prepared(prepared, live=live, decide_args=where)
        stats = _fake_stats(base_url)
        launches = stats.get("launches_per_fu", {})
        typer.echo(
            f"fake Cursor saw {stats.get('requests_total')} requests, "
            f"{sum(launches.values())} launches for {len(launches)} FUs, at most "
            f"{stats.get('max_concurrent_active')} runs at once "
            f"(limit {prepared.plan.limits.effective_parallel})"
        )
        _print_branch(remote)
        orchd = Path(sys.executable).parent / "orchd"  # the venv's, not necessarily on PATH
        typer.echo(f"inspect: {orchd} status {DEMO_RELEASE} --repo-root {root}")
    finally:
        fake.stop()
        if dashboard is not None:
            _stop(dashboard)
    raise typer.Exit(int(code))


def _start_dashboard(root: Path) -> subprocess.Popen[str] | None:
    """`orchd dashboard` for the demo's repo on a free loopback port, up while the demo runs;
    prints its URL. The demo goes on without it if it cannot start."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "dashboard",
            "--repo-root",
            str(root),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20.0)
    url = proc.stdout.readline().strip() if ready else ""
    if not url.startswith("http://127.0.0.1:"):
        _stop(proc)
        typer.echo("dashboard: did not start (the demo goes on without it)", err=True)
        return None
    typer.echo(f"dashboard: {url} (live while the demo runs)")
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def register(app: typer.Typer) -> None:
    app.command()(demo)
