"""The status report: what `orchd status`, `orchd watch`, the live view and the end-of-run
summary draw, designed for 80 columns.

Short values go in the tables (one row per FU, one per batch); long ones (agent ids, errors,
gate logs) get lines of their own, never cut and never folded mid-word; branches, PR URLs and
the rest of an FU are in its detail view (`report_detail.fu_detail`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.clock import utcnow
from orchestrator.core.eta import Eta, eta
from orchestrator.core.release_timing import (
    ACTIVE,
    FINAL_RELEASE,
    calendar_s,
    fu_time_s,
    release_end,
    release_start,
    sequential_s,
)
from orchestrator.models.status import BatchEntry, FuEntry, Gate, StatusFile

STATUS_STYLE = {
    "completed": "green",
    "merged": "bright_blue",
    "delivered": "blue",
    "running": "cyan",
    "launching": "cyan",
    "retrying": "yellow",
    "stale": "yellow",
    "waiting": "yellow",
    "waiting_for_capacity": "yellow",
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
# the one status too long for an 80-column row: the detail view spells it out
_SHORT_STATUS = {"waiting_for_capacity": "waiting"}
_NEXT_OF_ACTIVE = {
    "launching": "agent starting",
    "running": "agent working",
    "stale": "no progress",
    "retrying": "retry soon",
    "waiting_for_capacity": "a free agent slot",
}
# what is counted beside "landed n/m" in the headline
_SETTLED = ("needs_human", "failed", "blocked", "deferred", "cancelled", "skipped")
_SHA = 12
_NOTE_MAX = 300


def short_sha(sha: str | None) -> str:
    """A commit as people quote it: its first 12 hex digits."""
    return sha[:_SHA] if sha else "-"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def rough_duration(seconds: float) -> str:
    """An estimate's precision: `under a minute`, `35m`, `2h05m`."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def clock_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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


def one_line(text: str, limit: int = _NOTE_MAX) -> str:
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


def gate_word(batch: BatchEntry) -> str:
    """The batch's gate in one word for the FU table: passed, no tests, failed, gating, -."""
    gate = batch.gate
    if gate is None:
        return "gating" if batch.status == "gating" else "-"
    text = gate_text(gate)
    if text.startswith("passed (no tests"):
        return "no tests"
    return text.split(" ", 1)[0].rstrip(":")


def fu_branch(fu: FuEntry) -> str | None:
    return fu.delivered_branch or fu.branch


def _next(fu: FuEntry, batch: BatchEntry) -> str:
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
    if status in _NEXT_OF_ACTIVE:
        if fu.conflict_rounds and status == "running":
            return f"conflict round {fu.conflict_rounds}"
        return _NEXT_OF_ACTIVE[status]
    if status == "deferred":
        return "branch kept" if fu_branch(fu) else "-"
    if status in {"needs_human", "failed"}:
        return "see below" if fu.error else "-"
    return "-"


def _styled(value: str, styles: dict[str, str]) -> Text:
    return Text(value, style=styles.get(value, ""))


_FOLDABLE = ("completed", "pending", "deferred", "skipped", "cancelled", "blocked")


def folded_fus(snapshot: StatusFile, max_rows: int | None) -> tuple[set[str] | None, list[str]]:
    """With more FUs than `max_rows`, which to show (those at work or in trouble first) and one
    line per status folded away (`1000 FUs completed: FU-0000 … FU-0999`); (None, []) when all
    fit. A 2,000-row table is neither readable nor quick to draw."""
    fus = [fu for batch in snapshot.batches for fu in batch.feature_units]
    if max_rows is None or len(fus) <= max_rows:
        return None, []
    rank = {status: i for i, status in enumerate(_FOLDABLE)}
    ordered = sorted(fus, key=lambda fu: rank.get(fu.status, -1))  # stable: file order within
    shown = {fu.fu_id for fu in ordered[:max_rows]}
    folded: dict[str, list[str]] = {}
    for fu in fus:
        if fu.fu_id not in shown:
            folded.setdefault(fu.status, []).append(fu.fu_id)
    lines = [
        f"{_plural(len(ids), 'FU')} {status}: {ids[0]}" + (f" … {ids[-1]}" if len(ids) > 1 else "")
        for status, ids in folded.items()
    ]
    return shown, lines


def status_table(
    snapshot: StatusFile, *, now: datetime | None = None, only: set[str] | None = None
) -> Table:
    """Per FU: batch, status, attempts, time (elapsed while active), its batch's gate, then
    its merge commit or what it waits for. Fits 80 columns. `only`: the FUs to list."""
    now = now or utcnow()
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("batch", no_wrap=True)
    table.add_column("FU", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("att", no_wrap=True, justify="right")
    table.add_column("time", no_wrap=True, justify="right")
    table.add_column("gate", no_wrap=True)
    table.add_column("landed / next", no_wrap=True, overflow="ellipsis")
    for batch in snapshot.batches:
        gate = gate_word(batch)
        for fu in batch.feature_units:
            if only is not None and fu.fu_id not in only:
                continue
            shown = _SHORT_STATUS.get(fu.status, fu.status)
            table.add_row(
                batch_label(batch.batch_id),
                Text(fu.fu_id),
                _styled(shown, STATUS_STYLE),
                str(fu.attempts or "-"),
                duration_text(fu_time_s(fu, now)),
                gate,
                Text(_next(fu, batch)),
            )
    return table


def _landed_or_candidate(batch: BatchEntry) -> str:
    if batch.landed_sha:
        return short_sha(batch.landed_sha)
    label = candidate_label(batch.candidate)
    if label:
        at = f" at {short_sha(batch.candidate_sha)}" if batch.candidate_sha else ""
        return f"{label}{at}"
    return "-"


def batch_table(snapshot: StatusFile) -> Table:
    """Per batch: status, gate result (wrapped at words), and the commit it landed as."""
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("batch", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("gate", overflow="fold", ratio=1)
    table.add_column("landed / candidate", no_wrap=True)
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


def full_suite(snapshot: StatusFile) -> Gate | None:
    raw: Any = (snapshot.model_extra or {}).get("full_suite")
    if not isinstance(raw, dict):
        return None
    try:
        return Gate.model_validate(raw)
    except ValueError:
        return None


def report_notes(snapshot: StatusFile, only: set[str] | None = None) -> list[str]:
    """The long values, one per line: active agents' ids, the full-suite gate, FU errors and
    failing gate logs (of the FUs listed: `only`, when the table lists some)."""
    fus = [
        fu
        for batch in snapshot.batches
        for fu in batch.feature_units
        if only is None or fu.fu_id in only
    ]
    lines = [
        f"{fu.fu_id} agent {fu.worker_agent_id}"
        for fu in fus
        if fu.status in ACTIVE and fu.worker_agent_id
    ]
    full = full_suite(snapshot)
    if full is not None:
        lines.append(f"full suite gate: {gate_text(full)}")
    lines.extend(
        f"{fu.fu_id}: {one_line(fu.error)}" for fu in fus if fu.error and fu.status != "completed"
    )
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


def progress_line(snapshot: StatusFile, now: datetime, eta_: Eta | None) -> str:
    """`landed 3/8 (1 deferred) · elapsed 1h02m03s · ETA ~35m`, or `… · took 2h00m00s`."""
    fus = [fu for batch in snapshot.batches for fu in batch.feature_units]
    landed = sum(fu.status == "completed" for fu in fus)
    text = f"landed {landed}/{len(fus)}"
    others = [f"{n} {status}" for status in _SETTLED if (n := sum(f.status == status for f in fus))]
    if others:
        text += f" ({', '.join(others)})"
    spent = calendar_s(snapshot, now)
    if spent is not None:
        finished = release_end(snapshot) is not None
        text += f" · {'took' if finished else 'elapsed'} {duration_text(spent)}"
    if eta_ is not None:
        text += f" · ETA ~{rough_duration(eta_.remaining_s)}"
    return text


def eta_line(eta_: Eta) -> str:
    """How the ETA is computed, in the report itself: it is a forecast, not a promise."""
    at_once = f"÷ {eta_.parallel} at once"
    if eta_.estimate_h is None:
        return (
            f"ETA = {_plural(eta_.left, 'FU')} left × {duration_text(eta_.mean_s)} (mean agent "
            f"time of {eta_.finished} finished) {at_once}"
        )
    left = f"ETA = {round(eta_.estimate_h, 1):g}h of estimates left ({_plural(eta_.left, 'FU')})"
    if eta_.pace is None:
        return f"{left} at face value (no FU finished yet) {at_once}"
    return (
        f"{left} × {duration_text(eta_.pace)} per estimated hour (the pace of "
        f"{eta_.finished} finished) {at_once}"
    )


def question_lines(snapshot: StatusFile, options: str = "") -> list[Text]:
    """The open question as a sentence, and the exact command that answers it."""
    awaiting = snapshot.orchestrator.awaiting
    if not awaiting:
        return []
    release = snapshot.release_id
    kind = str(awaiting.get("kind") or "decision")
    batch = batch_label(awaiting.get("batch_id"))
    reason = one_line(str(awaiting.get("reason") or ""))
    if kind == "batch_failure":
        question = f"batch {batch} failed" + (f": {reason}" if reason else "")
    elif kind == "checkpoint":
        question = reason.removeprefix(f"{release}: ") or f"checkpoint after batch {batch}"
    else:
        question = f"{kind.replace('_', ' ')} of batch {batch}" + (f": {reason}" if reason else "")
    choices = [str(c) for c in awaiting.get("choices") or []] or ["continue", "abort"]
    where = f" {options}" if options else ""
    command = f"answer with: orchd decide {release} {'|'.join(choices)}{where}"
    lines = [
        Text(f"waiting for you: {question}", style="bold"),
        # whole on one line, however long the path: a person copies it
        Text(command, style="bold", no_wrap=True, overflow="ignore"),
    ]
    deadline = awaiting.get("deadline")
    if deadline:
        with contextlib.suppress(ValueError):
            at = clock_text(datetime.fromisoformat(str(deadline)))
            lines.append(Text(f"answer by {at}, or orchd aborts the release"))
    return lines


def status_report(
    snapshot: StatusFile,
    *,
    title: str | None = None,
    now: datetime | None = None,
    parallel: int | None = None,
    estimates_h: Mapping[str, float] | None = None,
    options: str = "",
    max_fu_rows: int | None = None,
) -> Group:
    """Title, progress, release branch, the open question, FU table, batch table, long values.

    The plan's limit (`parallel`) and estimates make the ETA better; `options` is appended to
    the command that answers the open question (`--repo-root …` when the reader needed it)."""
    now = now or utcnow()
    forecast = eta(snapshot, now, parallel, estimates_h)
    parts: list[RenderableType] = [
        Text(title or report_title(snapshot)),
        Text(progress_line(snapshot, now, forecast)),
    ]
    if forecast is not None:
        parts.append(Text(eta_line(forecast)))
    line = branch_line(snapshot)
    if line:
        parts.append(Text(line))
    parts.extend(question_lines(snapshot, options))
    only, folds = folded_fus(snapshot, max_fu_rows)
    parts.append(status_table(snapshot, now=now, only=only))
    parts.extend(Text(line) for line in folds)
    if folds:
        parts.append(Text(f"(`orchd status {snapshot.release_id} --all` lists every FU)"))
    if snapshot.batches:
        parts.append(batch_table(snapshot))
    parts.extend(Text(note) for note in report_notes(snapshot, only))
    return Group(*parts)


def timing_line(snapshot: StatusFile) -> str:
    """For a finished release: its calendar time against the sequential sum of agent time;
    the speed-up only when it completed (an aborted or failed run did not do the work)."""
    orch = snapshot.orchestrator
    end = release_end(snapshot)
    if orch.status not in FINAL_RELEASE or end is None or release_start(snapshot) is None:
        return ""
    calendar = calendar_s(snapshot, end) or 0.0
    sequential = sequential_s(snapshot, end)
    text = f"calendar time {duration_text(calendar)} vs sequential sum {duration_text(sequential)}"
    if orch.status == "completed" and calendar > 0 and sequential > 0:
        ratio = sequential / calendar
        text += f" ({ratio:.1f}x faster in parallel)" if ratio >= 1 else " (no faster in parallel)"
    return f"{text}\n(from the first start, across restarts; the sum adds up every agent run)"


def piped_width() -> int:
    """Piped output (CI, journald, files) gets a wide report unless COLUMNS says otherwise."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 160
