"""Where log lines go and how they look: JSON for services and pipes, readable text for a person
at a terminal, above the live table (never inside it), and bad log options refused at once."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import structlog
from rich.console import Console
from typer.testing import CliRunner

from orchestrator.adapters.logging import configure_logging, default_log_format, logs_through
from orchestrator.cli import app


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("tty", "env", "expected"),
    [
        (True, {}, "console"),
        (False, {}, "json"),  # a pipe, a file, CI
        (True, {"INVOCATION_ID": "4c1b…"}, "json"),  # a systemd service
        (True, {"JOURNAL_STREAM": "8:12345"}, "json"),  # systemd, output to the journal
        (True, {"XPC_SERVICE_NAME": "com.orchd.release"}, "json"),  # a launchd job
        (True, {"XPC_SERVICE_NAME": "0"}, "console"),  # what macOS Terminal sets
    ],
)
def test_logs_are_json_for_services_and_pipes_and_text_for_a_person(
    tty: bool, env: dict[str, str], expected: str
) -> None:
    stream = Terminal() if tty else io.StringIO()
    assert default_log_format(stream, env) == expected


def test_json_format_writes_one_object_per_line() -> None:
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    structlog.get_logger("orchd.test").info("batch.landed", batch_id="2")
    record = json.loads(out.getvalue())
    assert (record["event"], record["batch_id"], record["level"]) == ("batch.landed", "2", "info")


LOG_BEFORE_STRUCTLOG_LOADS = """
import sys
from orchestrator.adapters.logging import configure_logging
configure_logging(level="warning", fmt="json")
print("structlog loaded:", "structlog" in sys.modules)
import structlog
structlog.get_logger("orchd.test").info("hidden.event")
structlog.get_logger("orchd.test").warning("gate.failed", batch_id="2")
"""


def test_logging_set_up_before_structlog_loads_applies_to_the_first_module_that_logs() -> None:
    """`orchd status` sets up logging without loading structlog (it may never log); the first
    module that imports structlog gets the set-up: its lines go to stderr at the level, never to
    stdout (structlog's default)."""
    done = subprocess.run(
        [sys.executable, "-c", LOG_BEFORE_STRUCTLOG_LOADS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "structlog loaded: False\n"
    record = json.loads(done.stderr)
    assert (record["event"], record["level"], record["batch_id"]) == ("gate.failed", "warning", "2")


def test_while_a_live_table_is_shown_log_lines_are_printed_through_its_console() -> None:
    stream, screen = io.StringIO(), io.StringIO()
    configure_logging(level="info", fmt="console", stream=stream)
    log = structlog.get_logger("orchd.test")

    with logs_through(Console(file=screen, width=200)):
        log.warning("release_branch.moved", expected="abc")
    log.warning("after.the_table")

    assert "release_branch.moved" in screen.getvalue()
    assert "release_branch.moved" not in stream.getvalue()
    assert "after.the_table" in stream.getvalue()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["start", "v0.1.1", "--log-level", "verbose"],
            "orchd: --log-level: 'verbose' is not one of debug, info, warning, error",
        ),
        (
            ["start", "v0.1.1", "--log-format", "xml"],
            "orchd: --log-format: 'xml' is not one of json, console",
        ),
        (
            ["demo", "--log-level", "loud"],
            "orchd: --log-level: 'loud' is not one of debug, info, warning, error",
        ),
    ],
)
def test_an_unknown_log_option_is_refused_in_one_line_before_anything_runs(
    argv: list[str], line: str
) -> None:
    result = CliRunner().invoke(app, argv, env={"CURSOR_CLOUD_API_KEY": ""})
    assert result.exit_code == 2
    assert result.output.splitlines() == [line]
