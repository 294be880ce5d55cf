"""What a person sees while orchd runs: live progress (a table on a TTY, plain lines otherwise)
and the end-of-run summary. The report itself is drawn by `orchestrator.adapters.report`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.live import Live

from orchestrator.adapters.report import (
    batch_label,
    branch_line,
    candidate_label,
    fu_branch,
    gate_text,
    piped_width,
    short_sha,
    status_report,
    timing_line,
)
from orchestrator.models.status import BatchEntry, FuEntry, StatusFile


def _fu_line(fu: FuEntry, batch: BatchEntry) -> str:
    extra = f" attempt {fu.attempts}" if fu.attempts else ""
    if fu.worker_agent_id and fu.status in {"launching", "running"}:
        extra += f" agent {fu.worker_agent_id}"
    branch = fu_branch(fu)
    label = candidate_label(batch.candidate)
    if fu.status == "delivered" and branch:
        extra += f", branch {branch}"
    elif fu.status == "merged" and label:
        extra += f", into candidate {label}"
    elif fu.status == "completed" and fu.merge_commit:
        extra += f", landed as merge {short_sha(fu.merge_commit)}"
    elif fu.status == "deferred" and branch:
        extra += f", branch {branch} kept"
    if fu.error and fu.status != "completed":
        extra += f" — {fu.error}"
    return f"batch {batch_label(batch.batch_id)} {fu.fu_id}: {fu.status}{extra}"


def _batch_line(batch: BatchEntry, release_branch: str | None) -> str:
    text = f"batch {batch_label(batch.batch_id)}: {batch.status}"
    if batch.gate is not None:
        text += f", gate {gate_text(batch.gate)}"
    if batch.landed_sha:
        onto = f" on {release_branch}" if release_branch else ""
        text += f", landed {short_sha(batch.landed_sha)}{onto}"
    return text


class ProgressView:
    """Called by the status writer after each write; prints what changed."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live_mode = self.stream.isatty() if live is None else live
        width = None if self.stream.isatty() else piped_width()
        self.console = Console(file=self.stream, soft_wrap=True, width=width)
        self._seen: dict[str, str] = {}
        self._batches_seen: dict[int, str] = {}  # by position: old files repeat ids
        self._branch_seen: str | None = None
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
            self.console.print(status_report(self._last))
        try:
            yield
        finally:
            live.start()

    def __call__(self, snapshot: StatusFile) -> None:
        self._last = snapshot
        if self._live is not None:
            self._live.update(status_report(snapshot))
            return
        line = branch_line(snapshot)
        if line and snapshot.integration_branch != self._branch_seen:
            self._branch_seen = snapshot.integration_branch
            self._print(line)
        for index, batch in enumerate(snapshot.batches):
            for fu in batch.feature_units:
                key = f"{fu.status}|{fu.attempts}"
                if self._seen.get(fu.fu_id) == key:
                    continue
                if fu.fu_id not in self._seen and fu.status == "pending":
                    self._seen[fu.fu_id] = key
                    continue
                self._seen[fu.fu_id] = key
                self._print(_fu_line(fu, batch))
            batch_key = f"{batch.status}|{batch.gate and batch.gate.status}|{batch.landed_sha}"
            previous = self._batches_seen.get(index)
            self._batches_seen[index] = batch_key
            if previous != batch_key and (previous is not None or batch.status != "pending"):
                self._print(_batch_line(batch, snapshot.integration_branch))

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def summary(self, snapshot: StatusFile) -> None:
        self.console.print(status_report(snapshot, title=f"{snapshot.release_id} — summary"))
        line = timing_line(snapshot)
        if line:
            self.console.print(line)
