"""structlog setup: readable lines on a terminal, JSON lines for services, CI and files.

Logs go to stderr so stdout stays for the progress sentences and summaries. `--log-format`
picks `json` or `console`; by default JSON when stderr is not a terminal or orchd runs under
systemd or launchd (their journals want one object per line), console otherwise. While the
live table is on screen, `logs_through(console)` prints log lines through its console, above the
redrawn region, so a log line never lands inside the table. Context (`release_id`, `fu_id`,
`agent_id`) is bound per task; secrets are never logged (the client redacts them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TextIO

import structlog
from rich.console import Console

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "console")


def log_option_problems(level: str | None, fmt: str | None) -> list[str]:
    """One line per unknown `--log-level` / `--log-format` value (checked before anything)."""
    problems = []
    if level is not None and level.lower() not in LOG_LEVELS:
        problems.append(f"--log-level: {level!r} is not one of {', '.join(LOG_LEVELS)}")
    if fmt is not None and fmt.lower() not in LOG_FORMATS:
        problems.append(f"--log-format: {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
    return problems


def under_service_manager(env: Mapping[str, str]) -> bool:
    """systemd sets INVOCATION_ID (and JOURNAL_STREAM when output goes to the journal) for a
    service; launchd sets XPC_SERVICE_NAME to the job's label ("0" in a Terminal session)."""
    launchd = env.get("XPC_SERVICE_NAME", "0") not in {"", "0"}
    return bool(env.get("INVOCATION_ID") or env.get("JOURNAL_STREAM")) or launchd


def default_log_format(stream: TextIO, env: Mapping[str, str]) -> str:
    """`json` for services and pipes, `console` for a person at a terminal."""
    if under_service_manager(env) or not _isatty(stream):
        return "json"
    return "console"


class _Route:
    """Where log lines go while a live display owns the terminal (None: the stream)."""

    console: Console | None = None


@contextlib.contextmanager
def logs_through(console: Console) -> Iterator[None]:
    """Print log lines with `console` (above its live region) until the block ends."""
    previous = _Route.console
    _Route.console = console
    try:
        yield
    finally:
        _Route.console = previous


class _LineLogger:
    """structlog's final logger: writes each rendered line to the stream, or through the live
    console while one is routed. The stream is resolved per call when it is sys.stderr, since
    test runners swap (and close) sys.stderr under us."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def msg(self, message: str) -> None:
        console = _Route.console
        if console is not None:
            console.print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)
            return
        print(message, file=self._stream or sys.stderr, flush=True)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = msg


def configure_logging(
    *,
    level: str = "info",
    fmt: str | None = None,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Level and format (None: `default_log_format`) for every structlog logger of orchd."""
    target = stream or sys.stderr
    chosen = (fmt or default_log_format(target, os.environ if env is None else env)).lower()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if chosen == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    explicit = None if stream is None or stream is sys.stderr else stream
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=lambda *_: _LineLogger(explicit),
        cache_logger_on_first_use=False,
    )


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):  # closed, or not a real file
        return False
