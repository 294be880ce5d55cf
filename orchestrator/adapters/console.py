"""What a person sees: live progress (rich table on a TTY, plain lines otherwise) and summaries."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator.models.status import StatusFile

_STYLE = {
    "completed": "green",
    "running": "cyan",
    "launching": "cyan",
    "retrying": "yellow",
    "stale": "yellow",
    "failed": "red",
    "needs_human": "bold red",
    "blocked": "red",
    "cancelled": "magenta",
    "skipped": "dim",
    "deferred": "dim",
}


def _short_id(agent_id: str | None) -> str:
    if not agent_id:
        return "-"
    return agent_id if len(agent_id) <= 14 else agent_id[:14] + "…"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def status_table(snapshot: StatusFile, *, title: str | None = None) -> Table:
    """Per FU: batch, status, attempts, agent, duration, branch / PR, error."""
    orch = snapshot.orchestrator
    table = Table(
        title=title
        or f"{snapshot.release_id} — {orch.status} (batch {_batch(orch.current_batch)})",
        title_justify="left",
    )
    for column in ("batch", "FU", "status", "att", "agent", "duration", "branch / PR", "note"):
        table.add_column(column, overflow="fold")
    for batch in snapshot.batches:
        for fu in batch.feature_units:
            style = _STYLE.get(fu.status, "")
            link = fu.pr_url or fu.branch or "-"
            note = fu.error or ""
            table.add_row(
                _batch(batch.batch_id),
                fu.fu_id,
                f"[{style}]{fu.status}[/]" if style else fu.status,
                str(fu.attempts or "-"),
                _short_id(fu.worker_agent_id),
                _duration(fu.duration_s),
                link,
                note[:80],
            )
    return table


def _batch(value: object) -> str:
    if value is None:
        return "-"
    text = format(value, "f") if not isinstance(value, int | float) else f"{value:g}"
    return text


def timing_line(snapshot: StatusFile) -> str:
    """Calendar time of the release against the sum of FU durations (what sequential costs)."""
    orch = snapshot.orchestrator
    if orch.started_at is None:
        return ""
    end: datetime | None = orch.completed_at
    if end is None:
        return ""
    calendar_s = (end - orch.started_at).total_seconds()
    sequential_s = sum(  # work that was done: time waiting for a human is no FU's duration
        fu.duration_s or 0.0
        for batch in snapshot.batches
        for fu in batch.feature_units
        if fu.status == "completed"
    )
    ratio = f" ({sequential_s / calendar_s:.1f}x faster)" if calendar_s > 0 else ""
    return (
        f"calendar time {_duration(calendar_s)} vs sequential sum {_duration(sequential_s)}{ratio}"
    )


class ProgressView:
    """Called by the status writer after each write; prints what changed."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live_mode = self.stream.isatty() if live is None else live
        # Piped output (CI, journald, files) gets a wide table instead of rich's 80 columns.
        width = None if self.stream.isatty() else 160
        self.console = Console(file=self.stream, soft_wrap=True, width=width)
        self._seen: dict[str, str] = {}
        self._live: Live | None = None
        self._last: StatusFile | None = None

    def __enter__(self) -> ProgressView:
        if self.live_mode:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the live table while a prompt owns the terminal; show it again afterwards."""
        live = self._live
        if live is None:
            yield
            return
        live.stop()
        if self._last is not None:
            self.console.print(status_table(self._last))
        try:
            yield
        finally:
            live.start()

    def __call__(self, snapshot: StatusFile) -> None:
        self._last = snapshot
        if self._live is not None:
            self._live.update(status_table(snapshot))
            return
        for batch in snapshot.batches:
            for fu in batch.feature_units:
                key = f"{fu.status}|{fu.attempts}"
                if self._seen.get(fu.fu_id) == key:
                    continue
                if fu.fu_id not in self._seen and fu.status == "pending":
                    self._seen[fu.fu_id] = key
                    continue
                self._seen[fu.fu_id] = key
                extra = f" attempt {fu.attempts}" if fu.attempts else ""
                if fu.worker_agent_id and fu.status in {"launching", "running"}:
                    extra += f" agent {fu.worker_agent_id}"
                if fu.error and fu.status not in {"completed"}:
                    extra += f" — {fu.error}"
                print(
                    f"batch {_batch(batch.batch_id)} {fu.fu_id}: {fu.status}{extra}",
                    file=self.stream,
                    flush=True,
                )

    def summary(self, snapshot: StatusFile) -> None:
        self.console.print(status_table(snapshot, title=f"{snapshot.release_id} — summary"))
        line = timing_line(snapshot)
        if line:
            self.console.print(line)
