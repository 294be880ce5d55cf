"""The status report: what `orchd status`, the live view and the end-of-run summary draw.

The report (`status_report`) is what `orchd status` and the end-of-run summary print: the release
branch and its head, one row per FU (its branch, then its merge commit once landed or what it is
waiting for), one row per batch (gate result, landed commit), then the long values (errors, PR
URLs, gate logs) on lines of their own so the tables stay readable in 100 columns.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
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


def batch_label(value: object) -> str:
    if value is None:
        return "-"
    text = format(value, "f") if not isinstance(value, int | float) else f"{value:g}"
    return text


def candidate_label(ref: str | None) -> str | None:
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


def fu_branch(fu: FuEntry) -> str | None:
    return fu.delivered_branch or fu.branch


def _waiting(fu: FuEntry, batch: BatchEntry) -> str:
    """Once landed: the FU's merge commit on the release branch; before: what it waits for."""
    status = fu.status
    label = candidate_label(batch.candidate)
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
        return "branch kept" if fu_branch(fu) else "-"
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
                batch_label(batch.batch_id),
                Text(fu.fu_id),
                _styled(fu.status, _STYLE),
                str(fu.attempts or "-"),
                _duration(fu.duration_s),
                Text(fu_branch(fu) or "-"),
                Text(_waiting(fu, batch)),
            )
    return table


def _landed_or_candidate(batch: BatchEntry) -> str:
    if batch.landed_sha:
        return short_sha(batch.landed_sha)
    label = candidate_label(batch.candidate)
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
            batch_label(batch.batch_id),
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
                lines.append(f"batch {batch_label(batch.batch_id)} {test.id} log: {test.log}")
    return lines


def report_title(snapshot: StatusFile) -> str:
    orch = snapshot.orchestrator
    return f"{snapshot.release_id} — {orch.status} (batch {batch_label(orch.current_batch)})"


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


def piped_width() -> int:
    """Piped output (CI, journald, files) gets a wide report unless COLUMNS says otherwise."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 160
