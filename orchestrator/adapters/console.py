"""What a person sees while orchd runs, and the end-of-run summary.

Every snapshot the status writer wrote comes here; `narrate` says what changed. Without a live
table (a pipe, a service, `--plain`) every sentence is printed, one per line. On a terminal the
live board is one region redrawn in place, fitted to the terminal, with the sentences that
matter printed above it as a log and log lines routed the same way. The report itself is drawn
by `orchestrator.adapters.report`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TextIO

import anyio
from rich.console import Console
from rich.live import Live
from rich.text import Text

from orchestrator.adapters.live_board import LiveBoard
from orchestrator.adapters.logging import logs_through
from orchestrator.adapters.narration import narrate
from orchestrator.adapters.report import piped_width, status_report, timing_line
from orchestrator.clock import utcnow
from orchestrator.models.status import StatusFile

# How long a prompt waits for the snapshot that shows its question before drawing the table
# anyway: the writer coalesces writes, so the question is usually on disk within a tick.
QUESTION_WAIT_S = 2.0


class ProgressView:
    """Called by the status writer after each write; tells what changed."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        decide_args: str = "",
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.stream = stream or sys.stdout
        self.live_mode = self.stream.isatty() if live is None else live
        width = None if self.stream.isatty() else piped_width()
        self.console = Console(file=self.stream, soft_wrap=not self.live_mode, width=width)
        self.decide_args = decide_args
        self._board = LiveBoard(decide_args=decide_args, now=now)
        self._live: Live | None = None
        self._routing: contextlib.ExitStack | None = None
        self._last: StatusFile | None = None
        self._answered: set[str] = set()  # questions (their `since`) a prompt has shown
        self._question_shown: anyio.Event | None = None
        self._paused = False

    def __enter__(self) -> ProgressView:
        if self.live_mode:
            self._live = self._new_live()
            self._routing = contextlib.ExitStack()
            if _same_terminal(sys.stderr, self.stream):
                self._routing.enter_context(logs_through(self.console))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._routing is not None:
            self._routing.close()
            self._routing = None
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _new_live(self) -> Live:
        """A started live region. Never restart a stopped one: rich keeps its old height and
        would move the cursor up over whatever was printed meanwhile (the prompt)."""
        live = Live(
            self._board,
            console=self.console,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="crop",
        )
        live.start(refresh=self._board.snapshot is not None)
        return live

    def __call__(self, snapshot: StatusFile) -> None:
        sentences = narrate(self._last, snapshot, decide_args=self.decide_args)
        self._last = snapshot
        if self._live is None:
            for sentence in sentences:
                print(sentence.text, file=self.stream, flush=True)
        else:
            for sentence in sentences:
                if sentence.key:
                    self.console.print(Text(sentence.text))
            self._board.snapshot = snapshot
            if not self._paused:
                self._live.refresh()
        if self._question_shown is not None and self._open_question() is not None:
            self._question_shown.set()

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Hand the terminal to a prompt: wait (briefly) until the written snapshot shows the
        question, so the table printed above the prompt is the state it asks about, not the
        one a tick before (an FU shown running after it escalated); stop the live region; show
        it again afterwards."""
        live = self._live
        if live is None:
            yield
            return
        if self._open_question() is None:
            self._question_shown = anyio.Event()
            with anyio.move_on_after(QUESTION_WAIT_S):
                await self._question_shown.wait()
            self._question_shown = None
        question = self._open_question()
        live.stop()
        self._paused = True
        if self._last is not None:
            self.console.print(status_report(self._last))
        try:
            yield
        finally:
            if question is not None:
                self._answered.add(question)
            self._paused = False
            self._live = self._new_live()

    def _open_question(self) -> str | None:
        """The `since` of the question the last snapshot shows, unless a prompt showed it."""
        awaiting = self._last.orchestrator.awaiting if self._last is not None else None
        if not awaiting:
            return None
        since = str(awaiting.get("since"))
        return None if since in self._answered else since

    def summary(self, snapshot: StatusFile) -> None:
        self.console.print(status_report(snapshot, title=f"{snapshot.release_id} — summary"))
        line = timing_line(snapshot)
        if line:
            self.console.print(line)


def _same_terminal(first: TextIO, second: TextIO) -> bool:
    """Both streams are the same terminal (log lines would land inside the live region)."""
    try:
        if not (first.isatty() and second.isatty()):
            return False
        a, b = os.fstat(first.fileno()), os.fstat(second.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev)
