"""What a person sees: live progress (rich table on a TTY, plain lines otherwise) and summaries.

The report (`status_report`) is what `orchd status` and the end-of-run summary print: the release
branch and its head, one row per FU (its branch, then its merge commit once landed or what it is
waiting for), one row per batch (gate result, landed commit), then the long values (errors, PR
URLs, gate logs) on lines of their own so the tables stay readable in 100 columns.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.models.status import BatchEntry, FuEntry, Gate, StatusFile

_STYLE = {
    "completed": "green",
    "merged": "bright_blue",
    "delivered": "blue",
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
_BATCH_STYLE = {
    "completed": "green",
    "running": "cyan",
    "gating": "bright_blue",
    "failed": "red",
    "awaiting_decision": "bold red",
    "skipped": "dim",
    "cancelled": "magenta",
}
_ACTIVE = {"launching", "running", "stale", "retrying"}
# FUs whose agent's work is done: their duration_s is the agent's time up to delivery.
_WORK_DONE = {"delivered", "merged", "completed"}
_SHA = 12
_NOTE_MAX = 200


def _short_id(agent_id: str | None) -> str:
    if not agent_id:
        return "-"
    return agent_id if len(agent_id) <= 11 else agent_id[:10] + "…"


def short_sha(sha: str | None) -> str:
    """A commit as people quote it: its first 12 hex digits."""
    return sha[:_SHA] if sha else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _batch(value: object) -> str:
    if value is None:
        return "-"
    text = format(value, "f") if not isinstance(value, int | float) else f"{value:g}"
    return text


def _candidate_label(ref: str | None) -> str | None:
    """`orchd/v0.1.0/cand/b0.7.1` → `b0.7.1` (batch 0.7, first build)."""
    return ref.rsplit("/", 1)[-1] if ref else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _one_line(text: str, limit: int = _NOTE_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def gate_text(gate: Gate | None) -> str:
    """`passed (3 tests)`, `passed (no tests ran)`, `failed: IT-001, IT-002 (timeout)`, or `-`.

    A pass where no test passed (`no_tests`, or an older file's `passed` over tests that had no
    command) is never shown as a plain pass."""
    if gate is None:
        return "-"
    passed = [t for t in gate.tests if t.status == "passed"]
    not_run = [t for t in gate.tests if t.status == "not_run"]
    bad = [t for t in gate.tests if t.status not in {"passed", "not_run"}]
    if gate.status == "no_tests" or (gate.status == "passed" and not passed):
        text = "passed (no tests ran)"
        if not_run:
            text += f"; {_plural(len(not_run), 'test')} without a command"
        return text
    if gate.status == "passed":
        text = f"passed ({_plural(len(passed), 'test')})"
        if not_run:
            text += f"; {len(not_run)} not run"
        return text
    if gate.status == "failed":
        culprits = bad or not_run
        if not culprits:
            return "failed (no tests ran)"
        names = [t.id if t.status == "failed" else f"{t.id} ({t.status})" for t in culprits]
        return "failed: " + ", ".join(names)
    return gate.status


def _fu_branch(fu: FuEntry) -> str | None:
    return fu.delivered_branch or fu.branch


def _waiting(fu: FuEntry, batch: BatchEntry) -> str:
    """Once landed: the FU's merge commit on the release branch; before: what it waits for."""
    status = fu.status
    label = _candidate_label(batch.candidate)
    if status == "completed":
        return short_sha(fu.merge_commit)
    if status == "merged":  # in the candidate: waits for the batch's gate on it
        return f"gate on {label}" if label else "batch gate"
    if status == "delivered":
        if fu.conflict_rounds:  # its agent is asked to merge the candidate and resolve
            return f"conflict round {fu.conflict_rounds}"
        return f"merge into {label}" if label else "merge into candidate"
    if status in _ACTIVE:
        text = f"agent {_short_id(fu.worker_agent_id)}" if fu.worker_agent_id else "an agent"
        if fu.conflict_rounds:
            text += f" (conflict {fu.conflict_rounds})"
        return text
    if status == "deferred":
        return "branch kept" if _fu_branch(fu) else "-"
    return "-"


def _styled(value: str, styles: dict[str, str]) -> Text:
    return Text(value, style=styles.get(value, ""))


def status_table(snapshot: StatusFile, *, title: str | None = None) -> Table:
    """Per FU: batch, status, attempts, duration, branch, then merge commit or what it awaits."""
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("batch", no_wrap=True)
    table.add_column("FU", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("att", no_wrap=True, justify="right")
    table.add_column("time", no_wrap=True, justify="right")
    # Only the branch wraps (folds) when the terminal is narrow; the rest stays on one line.
    table.add_column("branch", overflow="fold")
    table.add_column("landed / awaits", no_wrap=True, overflow="ellipsis")
    for batch in snapshot.batches:
        for fu in batch.feature_units:
            table.add_row(
                _batch(batch.batch_id),
                Text(fu.fu_id),
                _styled(fu.status, _STYLE),
                str(fu.attempts or "-"),
                _duration(fu.duration_s),
                Text(_fu_branch(fu) or "-"),
                Text(_waiting(fu, batch)),
            )
    return table


def _landed_or_candidate(batch: BatchEntry) -> str:
    if batch.landed_sha:
        return short_sha(batch.landed_sha)
    label = _candidate_label(batch.candidate)
    if label:
        at = f" at {short_sha(batch.candidate_sha)}" if batch.candidate_sha else ""
        return f"candidate {label}{at}"
    return "-"


def batch_table(snapshot: StatusFile) -> Table:
    """Per batch: status, gate result, and the release branch commit it landed as."""
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("batch", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("gate", overflow="fold")
    table.add_column("landed", overflow="fold")
    for batch in snapshot.batches:
        table.add_row(
            _batch(batch.batch_id),
            _styled(batch.status, _BATCH_STYLE),
            Text(gate_text(batch.gate)),
            Text(_landed_or_candidate(batch)),
        )
    return table


def branch_line(snapshot: StatusFile) -> str | None:
    """`release branch release/v0.1.0 at 1a2b3c4d5e6f (base main)`; None before it exists."""
    branch = snapshot.integration_branch
    if not branch:
        return None
    head = f"at {short_sha(snapshot.integration_sha)}" if snapshot.integration_sha else "(no head)"
    base = f" (base {snapshot.base_branch})" if snapshot.base_branch else ""
    return f"release branch {branch} {head}{base}"


def _full_suite(snapshot: StatusFile) -> Gate | None:
    raw: Any = (snapshot.model_extra or {}).get("full_suite")
    if not isinstance(raw, dict):
        return None
    try:
        return Gate.model_validate(raw)
    except ValueError:
        return None


def report_notes(snapshot: StatusFile) -> list[str]:
    """The long values, one per line: full-suite gate, FU errors, PR URLs, failing gate logs."""
    lines: list[str] = []
    full = _full_suite(snapshot)
    if full is not None:
        lines.append(f"full suite gate: {gate_text(full)}")
    for batch in snapshot.batches:
        for fu in batch.feature_units:
            if fu.error and fu.status != "completed":
                lines.append(f"{fu.fu_id}: {_one_line(fu.error)}")
    for batch in snapshot.batches:
        for fu in batch.feature_units:
            if fu.pr_url:
                lines.append(f"{fu.fu_id} PR: {fu.pr_url}")
    for batch in snapshot.batches:
        if batch.gate is None or batch.gate.status != "failed":
            continue
        for test in batch.gate.tests:
            if test.status not in {"passed", "not_run"} and test.log:
                lines.append(f"batch {_batch(batch.batch_id)} {test.id} log: {test.log}")
    return lines


def report_title(snapshot: StatusFile) -> str:
    orch = snapshot.orchestrator
    return f"{snapshot.release_id} — {orch.status} (batch {_batch(orch.current_batch)})"


def status_report(snapshot: StatusFile, *, title: str | None = None) -> Group:
    """Title, release branch line, FU table, batch table, then one line per long value."""
    parts: list[RenderableType] = [Text(title or report_title(snapshot))]
    line = branch_line(snapshot)
    if line:
        parts.append(Text(line))
    parts.append(status_table(snapshot))
    if snapshot.batches:
        parts.append(batch_table(snapshot))
    parts.extend(Text(note) for note in report_notes(snapshot))
    return Group(*parts)


def timing_line(snapshot: StatusFile) -> str:
    """Calendar time of the release against the sum of FU durations (what sequential costs)."""
    orch = snapshot.orchestrator
    if orch.started_at is None:
        return ""
    end: datetime | None = orch.completed_at
    if end is None:
        return ""
    calendar_s = (end - orch.started_at).total_seconds()
    # Work that was done: an agent's time up to delivery (set then, whether or not its batch
    # landed). A deferred or failed FU's duration includes waiting for a human: not counted.
    sequential_s = sum(
        fu.duration_s or 0.0
        for batch in snapshot.batches
        for fu in batch.feature_units
        if fu.status in _WORK_DONE
    )
    ratio = f" ({sequential_s / calendar_s:.1f}x faster)" if calendar_s > 0 else ""
    return (
        f"calendar time {_duration(calendar_s)} vs sequential sum {_duration(sequential_s)}{ratio}"
    )


def _piped_width() -> int:
    """Piped output (CI, journald, files) gets a wide report unless COLUMNS says otherwise."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 160


def _fu_line(fu: FuEntry, batch: BatchEntry) -> str:
    extra = f" attempt {fu.attempts}" if fu.attempts else ""
    if fu.worker_agent_id and fu.status in {"launching", "running"}:
        extra += f" agent {fu.worker_agent_id}"
    branch = _fu_branch(fu)
    label = _candidate_label(batch.candidate)
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
    return f"batch {_batch(batch.batch_id)} {fu.fu_id}: {fu.status}{extra}"


def _batch_line(batch: BatchEntry, release_branch: str | None) -> str:
    text = f"batch {_batch(batch.batch_id)}: {batch.status}"
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
        width = None if self.stream.isatty() else _piped_width()
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
