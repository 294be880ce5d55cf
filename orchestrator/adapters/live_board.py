"""The live board: the one region redrawn in place under the log while `orchd start` runs on a
terminal. It always fits the terminal: every line is cut at the width, and when the FUs do not
fit the height, landed ones fold into one line, then pending ones, then ended ones, then the
rest is counted ("… 3 more"). A region taller than the terminal would scroll its top away and
leave copies of itself in the scrollback on every redraw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.console import (
    Console,
    ConsoleOptions,
    Group,
    JustifyMethod,
    RenderableType,
    RenderResult,
)
from rich.table import Table
from rich.text import Text

from orchestrator.adapters.narration import awaiting_sentence
from orchestrator.adapters.report import (
    STATUS_STYLE,
    batch_label,
    candidate_label,
    fu_branch,
    short_sha,
)
from orchestrator.models.status import BatchEntry, FuEntry, StatusFile

_ACTIVE = frozenset({"launching", "running", "stale", "retrying", "waiting_for_capacity"})
_ENDED = frozenset({"cancelled", "skipped", "deferred", "blocked"})
_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("batch", "left"),
    ("FU", "left"),
    ("status", "left"),
    ("att", "right"),
    ("time", "right"),
    ("detail", "left"),
)
_SPARE_LINES = 1  # the cursor's line under the region: without it the terminal scrolls
_HEADER_LINES = 2  # the table's header row and the rule under it

Row = tuple[FuEntry, BatchEntry]
_FOLDS: tuple[tuple[str, Callable[[FuEntry], bool]], ...] = (
    ("landed", lambda fu: fu.status == "completed"),
    ("pending", lambda fu: fu.status == "pending"),
    ("ended", lambda fu: fu.status in _ENDED),
)


@dataclass
class LiveBoard:
    """A renderable that lays the latest snapshot out for the console's current size."""

    snapshot: StatusFile | None = None
    decide_args: str = ""
    now: Callable[[], datetime] | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.snapshot is None:
            return
        now = self.now() if self.now else None
        yield board(
            self.snapshot,
            height=options.max_height,
            width=options.max_width,
            now=now,
            args=self.decide_args,
        )


def board(
    snapshot: StatusFile,
    *,
    height: int,
    width: int = 100,
    now: datetime | None = None,
    args: str = "",
) -> Group:
    """Title, FU table (folded to fit `height` lines), batches line, the open question."""
    lines_above: list[RenderableType] = [_line(_title(snapshot))]
    lines_below: list[RenderableType] = [_line(_batches(snapshot))]
    awaiting = snapshot.orchestrator.awaiting
    if awaiting:
        question = awaiting_sentence(snapshot.release_id, awaiting, args)
        lines_below.append(_line(question, style="bold"))
    rows = [(fu, batch) for batch in snapshot.batches for fu in batch.feature_units]
    budget = height - _SPARE_LINES - len(lines_above) - len(lines_below) - _HEADER_LINES
    if budget < 1 or not rows:
        return Group(*lines_above, *lines_below)
    shown, folded = fit_rows(rows, budget)
    table = _table(shown, now, width) if shown else None
    parts = [*lines_above, *([table] if table else []), *(_line(f) for f in folded)]
    return Group(*parts, *lines_below)


def fit_rows(rows: list[Row], budget: int) -> tuple[list[Row], list[str]]:
    """The rows to show and the one-line summaries of those folded, in at most `budget` lines."""
    shown = rows
    folded: list[str] = []
    for name, belongs in _FOLDS:
        if len(shown) + len(folded) <= budget:
            break
        members = [row for row in shown if belongs(row[0])]
        if not members:
            continue
        shown = [row for row in shown if not belongs(row[0])]
        folded.append(_fold_text(name, members))
    if len(shown) + len(folded) > budget:
        keep = max(budget - len(folded) - 1, 0)
        folded.append(f"… {len(shown) - keep} more FUs (orchd status lists every FU)")
        shown = shown[:keep]
    return shown, folded[:budget]


def _fold_text(name: str, members: list[Row]) -> str:
    ids = ", ".join(fu.fu_id for fu, _ in members)
    if name == "ended":
        counts = Counter(fu.status for fu, _ in members)
        kinds = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        return f"{len(members)} FUs ended ({kinds}): {ids}"
    return f"{len(members)} FUs {name}: {ids}"


def _title(snapshot: StatusFile) -> str:
    orch = snapshot.orchestrator
    fus = [fu for batch in snapshot.batches for fu in batch.feature_units]
    landed = sum(fu.status == "completed" for fu in fus)
    text = f"{snapshot.release_id} — {orch.status} · {landed}/{len(fus)} FUs landed"
    if snapshot.integration_branch:
        text += f" · {snapshot.integration_branch} at {short_sha(snapshot.integration_sha)}"
    return text


def _batches(snapshot: StatusFile) -> str:
    """`batches: 3/14 landed · 0.7 gating · 0.8 running · failed: 2, 6 · 7 pending`."""
    batches = snapshot.batches
    landed = sum(b.status == "completed" for b in batches)
    parts = [f"batches: {landed}/{len(batches)} landed"]
    ended: dict[str, list[str]] = {}
    for batch in batches:
        label = batch_label(batch.batch_id)
        if batch.status in {"failed", "skipped", "cancelled"}:
            ended.setdefault(batch.status, []).append(label)
        elif batch.status not in {"completed", "pending"}:
            parts.append(f"{label} {batch.status.replace('_', ' ')}")
    parts += [f"{status}: {', '.join(labels)}" for status, labels in ended.items()]
    pending = sum(b.status == "pending" for b in batches)
    if pending:
        parts.append(f"{pending} pending")
    return " · ".join(parts)


def _table(rows: list[Row], now: datetime | None, width: int) -> Table:
    """One line per FU; the detail column gets what the others leave (rich would otherwise
    shrink every column alike and cut the FU ids)."""
    cells = [
        (
            batch_label(batch.batch_id),
            fu.fu_id,
            fu.status,
            str(fu.attempts or "-"),
            _time(fu, now),
            _detail(fu, batch),
        )
        for fu, batch in rows
    ]
    fixed = [
        max(len(name), *(len(row[i]) for row in cells)) for i, (name, _) in enumerate(_COLUMNS[:-1])
    ]
    separators = 3 * (len(_COLUMNS) - 1)  # " │ " between columns
    detail_width = max(width - sum(fixed) - separators, 6)
    table = Table(show_edge=False, pad_edge=False, expand=False)
    for (name, justify), size in zip(_COLUMNS, [*fixed, detail_width], strict=True):
        table.add_column(name, no_wrap=True, overflow="ellipsis", justify=justify, max_width=size)
    for row in cells:
        status = Text(row[2], style=STATUS_STYLE.get(row[2], ""))
        table.add_row(row[0], row[1], status, row[3], row[4], row[5])
    return table


def _time(fu: FuEntry, now: datetime | None) -> str:
    """Duration once the agent is done; time since its start while it runs."""
    seconds = fu.duration_s
    started = fu.started_at
    if seconds is None and fu.status in _ACTIVE and started and started.tzinfo and now:
        seconds = max((now - started).total_seconds(), 0.0)  # a naive time (by hand): none
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _detail(fu: FuEntry, batch: BatchEntry) -> str:
    status = fu.status
    if status == "completed":
        return f"merge {short_sha(fu.merge_commit)}" if fu.merge_commit else "landed"
    if status == "merged":
        label = candidate_label(batch.candidate)
        return f"in {label}, awaits the gate" if label else "awaits the gate"
    if fu.error and status not in _ACTIVE:
        return " ".join(fu.error.split())
    if status == "delivered":
        return fu_branch(fu) or "-"
    if status in _ACTIVE and fu.worker_agent_id:
        return f"agent {fu.worker_agent_id}"
    return "-"


def _line(text: str, *, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")
