"""`orchd demo`: a real release end to end against the built-in fake Cursor server.

Copies neotoma's v0.1.0 release (bundled, MIT) into a fresh directory, starts
`orchd fake-cursor` as a separate process on a free loopback port, and runs `orchd start` on the
copy through the same code path a user runs, over HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.adapters.logging import configure_logging
from orchestrator.cli.start import fail, run_prepared
from orchestrator.daemon import prepare_start
from orchestrator.engine.configure import Overrides
from orchestrator.errors import OrchdError
from orchestrator.fakecursor.process import FakeCursorProcess

DEMO_RELEASE = "v0.1.0"
DEMO_KEY = "demo-key-not-a-secret"


def _copy_bundle(target: Path) -> Path:
    bundle = resources.files("orchestrator").joinpath("data/demo")
    with resources.as_file(bundle) as source:
        shutil.copytree(source, target, dirs_exist_ok=True)
    return target


def _fake_stats(base_url: str) -> dict[str, Any]:
    url = base_url.removesuffix("/v1") + "/_fake/stats"
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def demo(
    workdir: Annotated[
        Path | None, typer.Option(help="Where to copy the demo release (default: a new temp dir).")
    ] = None,
    live: Annotated[
        bool | None, typer.Option("--live/--plain", help="Live table (default on a TTY).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level for stderr.")] = "error",
) -> None:
    """Run neotoma's v0.1.0 release end to end against the fake Cursor server over loopback."""
    configure_logging(level=log_level)
    root = _copy_bundle(workdir or Path(tempfile.mkdtemp(prefix="orchd-demo-")))
    typer.echo(f"demo repo: {root}")
    fake = FakeCursorProcess(api_key=DEMO_KEY, scenario=root / "scenario.yaml")
    base_url = fake.url
    typer.echo(f"fake Cursor server: {base_url} (pid {fake.proc.pid})")
    try:
        env = {
            **os.environ,
            "CURSOR_CLOUD_API_URL": base_url,
            "CURSOR_CLOUD_API_KEY": DEMO_KEY,
            "REPO_URL": "https://github.com/markmhendrickson/neotoma",
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
                ),
                prompt_template=None,
                env=env,
            )
        except OrchdError as exc:
            raise fail(exc) from None
        code = run_prepared(prepared, live=live)
        stats = _fake_stats(base_url)
        launches = stats.get("launches_per_fu", {})
        typer.echo(
            f"fake Cursor saw {stats.get('requests_total')} requests, "
            f"{sum(launches.values())} launches for {len(launches)} FUs, at most "
            f"{stats.get('max_concurrent_active')} runs at once "
            f"(limit {prepared.plan.limits.effective_parallel})"
        )
        orchd = Path(sys.executable).parent / "orchd"  # the venv's, not necessarily on PATH
        typer.echo(f"inspect: {orchd} status {DEMO_RELEASE} --repo-root {root}")
    finally:
        fake.stop()
    raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    app.command()(demo)
