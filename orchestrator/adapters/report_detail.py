"""The views behind the report: one FU in full, and the error log (failures and decisions).

`orchd status <release> <FU>` prints the detail, and `orchd watch` shows both on a key. Every
value is whole: ids, branches and URLs on lines of their own, prose wrapped at words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.adapters.report import (
    batch_label,
    candidate_label,
    clock_text,
    duration_text,
    gate_text,
    short_sha,
)
from orchestrator.core.failures import failures
from orchestrator.core.release_timing import ACTIVE, agent_time_s, fu_time_s
from orchestrator.models.status import BatchEntry, FuEntry, StatusFile


def find_fus(snapshot: StatusFile, query: str) -> list[str]:
    """FU ids a person means by `query`: the id itself (any case), or its end after a
    non-alphanumeric character (`105` → FU-105, never FU-1105)."""
    wanted = query.strip().lower()
    ids = [fu.fu_id for batch in snapshot.batches for fu in batch.feature_units]
    if not wanted:
        return []
    exact = [fu_id for fu_id in ids if fu_id.lower() == wanted]
    if exact:
        return exact
    return [
        fu_id
        for fu_id in ids
        if fu_id.lower().endswith(wanted)
        and len(fu_id) > len(wanted)
        and not fu_id[-len(wanted) - 1].isalnum()
    ]


def _locate(snapshot: StatusFile, fu_id: str) -> tuple[FuEntry, BatchEntry] | None:
    for batch in snapshot.batches:
        for fu in batch.feature_units:
            if fu.fu_id == fu_id:
                return fu, batch
    return None


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def fu_detail(snapshot: StatusFile, fu_id: str, now: datetime) -> Group:
    """Everything the file says about one FU, labelled, one value per line."""
    found = _locate(snapshot, fu_id)
    if found is None:
        return Group(Text(f"{fu_id}: not in this release's status file"))
    fu, batch = found
    head = f"{fu.fu_id} — {fu.status} (batch {batch_label(batch.batch_id)})"
    if fu.attempts:
        head += f", attempt {fu.attempts}"
    grid = _grid()
    rows: list[tuple[str, str | None]] = [
        ("priority", _priority(fu)),
        ("agent", fu.worker_agent_id),
        ("run", fu.run_id),
        ("started", clock_text(fu.started_at) if fu.started_at else None),
    ]
    time_s = fu_time_s(fu, now)
    if fu.status in ACTIVE and time_s is not None:
        rows.append(("elapsed", duration_text(time_s)))
    else:
        rows.append(("duration", duration_text(time_s) if time_s is not None else None))
    spent = agent_time_s(fu, now)
    rows.append(("agent time", f"{duration_text(spent)} (all runs)" if spent else None))
    rows += [
        ("branch", fu.delivered_branch or fu.branch),
        ("PR", fu.pr_url),
        ("started from", short_sha(fu.base_sha) if fu.base_sha else None),
        ("delivered", short_sha(fu.delivered_sha) if fu.delivered_sha else None),
        ("conflicts", f"{fu.conflict_rounds} round(s)" if fu.conflict_rounds else None),
        ("candidate", candidate_label(batch.candidate) if fu.status == "merged" else None),
        ("merge", short_sha(fu.merge_commit) if fu.merge_commit else None),
        ("landed", clock_text(fu.landed_at) if fu.landed_at else None),
        ("batch gate", gate_text(batch.gate) if batch.gate else None),
        ("note", fu.note),
        ("error", fu.error),
        ("summary", fu.summary),
    ]
    for label, value in rows:
        if value:
            grid.add_row(label, Text(value))
    return Group(Text(head, style="bold"), grid)


def _priority(fu: FuEntry) -> str | None:
    risk = f"risk {fu.risk_level}" if fu.risk_level else None
    return " · ".join(p for p in (fu.priority, risk) if p) or None


def _time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S") if at else "--:--:--"


def error_log(snapshot: StatusFile) -> Group:
    """Each failure once (an FU's escalation and its batch's failure are one), with its time;
    then the decisions taken and by whom."""
    found = failures(snapshot.errors)
    parts: list[RenderableType] = []
    if not found:
        parts.append(Text("no errors recorded", style="bold"))
    else:
        parts.append(Text(f"errors ({_count(len(found), 'failure')})", style="bold"))
        grid = _grid()
        for failure in found:
            fu_id, message = failure.error.fu_id, failure.error.message
            if fu_id and not message.startswith(fu_id):
                message = f"{fu_id}: {message}"
            grid.add_row(_time(failure.error.at), Text(message))
        parts.append(grid)
    decisions = _decisions(snapshot)
    if decisions:
        parts.append(Text("decisions", style="bold"))
        grid = _grid()
        for at, line in decisions:
            grid.add_row(at, Text(line))
        parts.append(grid)
    return Group(*parts)


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _decisions(snapshot: StatusFile) -> list[tuple[str, str]]:
    raw: Any = (snapshot.model_extra or {}).get("decisions")
    if not isinstance(raw, list):
        return []
    lines: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        at = str(item.get("at") or "")
        try:
            shown = _time(datetime.fromisoformat(at))
        except ValueError:
            shown = "--:--:--"
        kind = str(item.get("kind") or "decision").replace("_", " ")
        text = (
            f"{item.get('action')} on the {kind} of batch {batch_label(item.get('batch_id'))}"
            f" by {item.get('by') or 'someone'}"
        )
        if item.get("reason"):
            text += f" ({item['reason']})"
        lines.append((shown, text))
    return lines
