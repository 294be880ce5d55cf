"""`orchd start`: run a release in the foreground."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orchestrator.cli.options import ReleaseDir, RepoRoot, fail, find_again_options
from orchestrator.errors import ExitCode, InputError, OrchdError
from orchestrator.models.strategy import StrategyType

if TYPE_CHECKING:
    from orchestrator.daemon import Prepared


def start(
    release_id: Annotated[str, typer.Argument(help="Release id, e.g. v0.1.1.")],
    repo_root: RepoRoot = Path("."),
    release_dir: ReleaseDir = None,
    strategy: Annotated[
        StrategyType | None, typer.Option(help="Use when the manifest has no strategy type.")
    ] = None,
    poll_interval: Annotated[
        float | None, typer.Option("--poll-interval", help="Seconds between run polls.")
    ] = None,
    stale_after: Annotated[
        float | None, typer.Option("--stale-after", help="Minutes without progress = stale.")
    ] = None,
    max_duration: Annotated[
        float | None, typer.Option("--max-duration", help="Default minutes before a run times out.")
    ] = None,
    retry_backoff: Annotated[
        float | None, typer.Option("--retry-backoff", help="Seconds before the first retry.")
    ] = None,
    strict_batches: Annotated[
        bool, typer.Option(help="A batch starts only when every earlier batch is complete.")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Treat validation warnings as errors.")] = False,
    stream: Annotated[
        bool | None, typer.Option("--stream/--no-stream", help="Follow runs by SSE (else poll).")
    ] = None,
    prompt_template: Annotated[
        Path | None, typer.Option(help="Worker prompt template (default config/worker_prompt.md).")
    ] = None,
    live: Annotated[
        bool | None, typer.Option("--live/--plain", help="Live table (default on a TTY).")
    ] = None,
    gate_command: Annotated[
        str | None,
        typer.Option(help="Release-wide gate run after every batch (ORCHD_BATCH_ID says which)."),
    ] = None,
    strict_gate: Annotated[
        bool, typer.Option(help="A test without a command (not_run) blocks the batch.")
    ] = False,
    on_batch_failure: Annotated[
        str | None,
        typer.Option(
            help="wait | prompt | abort | skip | fail (default: prompt on a TTY, else wait)."
        ),
    ] = None,
    on_checkpoint: Annotated[
        str | None,
        typer.Option(help="wait | prompt | continue (env ORCHD_ON_CHECKPOINT; default as above)."),
    ] = None,
    decision_deadline: Annotated[
        float | None,
        typer.Option(help="Minutes to wait for `orchd decide` before aborting (0: no limit)."),
    ] = None,
    integration_branch: Annotated[
        str | None,
        typer.Option(
            help="The release branch landed FUs are merged into (default release/<release_id>)."
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="orchd's git cache and gate worktrees (default $XDG_STATE_HOME/orchd)."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(help="debug, info, warning, error (default: info; warning under the table)."),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            help="json or console (default: console on a terminal; JSON when piped or under "
            "systemd/launchd)."
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve the daemon's Prometheus /metrics on 127.0.0.1:PORT (0: a free port).",
        ),
    ] = None,
) -> None:
    """Run a release to its end. Exit 0 done, 1 failed, 2 bad input, 3 aborted, 4 the status
    file could not be written, 5 detached (agents left running; start again to adopt them)."""
    from orchestrator.daemon import prepare_start
    from orchestrator.engine.configure import Overrides

    live = setup_output(live, log_level, log_format)
    overrides = Overrides(
        poll_interval_s=poll_interval,
        stale_after_minutes=stale_after,
        max_duration_minutes=max_duration,
        strict_batches=strict_batches,
        use_stream=stream,
        retry_backoff_s=retry_backoff,
        gate_command=gate_command,
        strict_gate=strict_gate,
        on_batch_failure=on_batch_failure,
        on_checkpoint=on_checkpoint,
        decision_deadline_minutes=decision_deadline,
        integration_branch=integration_branch,
        state_dir=state_dir,
    )
    try:
        prepared = prepare_start(
            release_id,
            repo_root=repo_root,
            release_dir=release_dir,
            strategy=strategy,
            strict=strict,
            overrides=overrides,
            prompt_template=prompt_template,
            env=os.environ,
            interactive=sys.stdin.isatty() and sys.stderr.isatty(),
        )
    except OrchdError as exc:
        raise fail(exc) from None
    where = find_again_options(repo_root, release_dir, state_dir)
    code = run_prepared(prepared, live=live, decide_args=where, metrics_port=metrics_port)
    raise typer.Exit(int(code))


def setup_output(
    live: bool | None,
    log_level: str | None,
    log_format: str | None,
    *,
    default_level: str | None = None,
) -> bool:
    """Check the log options (one line each, exit 2) and configure logging; return whether the
    live table is shown. The default level is `info`, but `warning` under the table: info lines
    would bury it, and the table and the sentences above it say what happened."""
    from orchestrator.adapters.logging import configure_logging, log_option_problems

    problems = log_option_problems(log_level, log_format)
    if problems:
        raise fail(InputError("\n".join(problems)))
    shown = sys.stdout.isatty() if live is None else live
    level = log_level or default_level or ("warning" if shown else "info")
    configure_logging(level=level.lower(), fmt=log_format)
    return shown


def run_prepared(
    prepared: Prepared,
    *,
    live: bool | None = None,
    decide_args: str = "",
    metrics_port: int | None = None,
    **kwargs: Any,
) -> ExitCode:
    """Check the key, take the release lock, read what an earlier run left (under the lock),
    run in the foreground with the progress view; print the summary; return the exit code."""
    import anyio

    from orchestrator.adapters.console import ProgressView
    from orchestrator.daemon import (
        EXIT_FOR_STATUS,
        check_api_key,
        read_existing,
        release_lock,
        run_release,
    )

    for line in prepared.plan.warnings:
        typer.echo(f"warning: {line.render()}", err=True)
    try:
        transport = kwargs.get("transport")
        anyio.run(lambda: check_api_key(prepared.run_env.cursor, transport=transport))
        with release_lock(prepared.status_path, prepared.settings.state_dir):
            existing, notes = read_existing(prepared.status_path, prepared.settings.state_dir)
            for note in notes:
                typer.echo(f"note: {note}", err=True)
            metrics, server = _metrics(metrics_port)
            with ProgressView(live=live, decide_args=decide_args) as view:
                outcome = anyio.run(
                    lambda: run_release(
                        prepared.plan,
                        prepared.settings,
                        prepared.run_env,
                        prepared.status_path,
                        existing=existing,
                        on_change=view,
                        modes=prepared.modes,
                        notify_url=prepared.notify_url,
                        pause_display=view.paused,
                        metrics=metrics,
                        **kwargs,
                    )
                )
            if server is not None:
                server.shutdown()
    except OrchdError as exc:
        raise fail(exc) from None
    view.summary(outcome.snapshot)
    typer.echo(
        f"release {prepared.plan.release_id}: {outcome.status.value} "
        f"(status file {prepared.status_path})"
    )
    return EXIT_FOR_STATUS[outcome.status]


def _metrics(port: int | None) -> tuple[Any, Any]:
    """The daemon's metrics and their server on 127.0.0.1 (none without a port); a busy port is
    one line, exit 2, before anything is launched."""
    if port is None:
        return None, None
    from orchestrator.adapters.daemon_metrics import DaemonMetrics

    metrics = DaemonMetrics()
    try:
        server = metrics.serve(port)
    except OSError as exc:
        raise InputError(
            f"--metrics-port {port}: cannot listen on 127.0.0.1: {exc.strerror}"
        ) from None
    typer.echo(f"metrics: http://127.0.0.1:{server.server_port}/metrics")
    return metrics, server


def register(app: typer.Typer) -> None:
    app.command()(start)
