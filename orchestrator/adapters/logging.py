"""structlog setup: readable lines on a terminal, JSON lines for services, CI and files.

Logs go to stderr so stdout stays for the progress sentences and summaries. `--log-format`
picks `json` or `console`; by default JSON when stderr is not a terminal or orchd runs under
systemd or launchd (their journals want one object per line), console otherwise. While the
live table is on screen, `logs_through(console)` prints log lines through its console, above the
redrawn region, so a log line never lands inside the table. Context (`release_id`, `fu_id`,
`agent_id`) is bound per task; secrets are never logged (the client redacts them).

structlog's package import pulls in its dev renderer, rich's tracebacks and asyncio (~60 ms):
a command that never logs (`orchd status`, `validate`) must not pay for it, so the
configuration waits for the first import of structlog when it is not loaded yet.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO, cast

if TYPE_CHECKING:
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

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
    """Level and format (None: `default_log_format`) for every structlog logger of orchd.

    Applied at once when structlog is loaded, else the moment it is first imported (by the
    first module that logs): a command that never logs never loads it."""
    target = stream or sys.stderr
    chosen = (fmt or default_log_format(target, os.environ if env is None else env)).lower()
    explicit = None if stream is None or stream is sys.stderr else stream
    threshold = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    _Pending.settings = (threshold, chosen, explicit)
    if "structlog" in sys.modules:
        _apply_pending()
    elif _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)


class _Pending:
    """The latest `configure_logging` not yet applied (structlog not imported yet)."""

    settings: tuple[int, str, TextIO | None] | None = None


def _apply_pending() -> None:
    settings, _Pending.settings = _Pending.settings, None
    if settings is None:
        return
    import structlog

    threshold, chosen, explicit = settings
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if chosen == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=lambda *_: _LineLogger(explicit),
        cache_logger_on_first_use=False,
    )


class _ConfigureOnImport:
    """An import hook (a `sys.meta_path` finder that is its own loader) for `structlog` only:
    it loads structlog with its real loader, then applies the pending configuration, before
    the importing module's next line can log with structlog's defaults (stdout)."""

    def __init__(self) -> None:
        self._finding = False
        self._real: Loader | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "structlog" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(fullname)  # the finders after this one
        finally:
            self._finding = False
        if spec is None or spec.loader is None:
            return spec
        # duck-typed: importlib.abc.Loader would cost its own import (~9 ms)
        self._real, spec.loader = spec.loader, cast("Loader", self)
        return spec

    def _loader(self) -> Loader:
        if self._real is None:
            raise ImportError("structlog: loader used before its spec was found")
        return self._real

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader().create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        real = self._loader()
        module.__loader__ = real  # as if this hook never was
        if module.__spec__ is not None:
            module.__spec__.loader = real
        real.exec_module(module)
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        _apply_pending()


_HOOK = _ConfigureOnImport()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):  # closed, or not a real file
        return False
