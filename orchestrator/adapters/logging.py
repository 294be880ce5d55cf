"""structlog setup: JSON lines when stderr is not a TTY (services, CI), readable text on a TTY.

Logs go to stderr so stdout stays for the progress view and summaries. Context (`release_id`,
`fu_id`, `agent_id`) is bound per task; secrets are never logged (the client redacts them).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure_logging(
    *, level: str = "info", json: bool | None = None, stream: TextIO | None = None
) -> None:
    stream = stream or sys.stderr
    use_json = (not stream.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
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
        # Resolve the stream per call: test runners swap (and close) sys.stderr under us.
        logger_factory=(
            (lambda *_: structlog.PrintLogger(file=sys.stderr))
            if stream is sys.stderr
            else structlog.PrintLoggerFactory(file=stream)
        ),
        cache_logger_on_first_use=False,
    )
