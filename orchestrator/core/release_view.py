"""A release as the dashboard shows it, built from its status file alone at a given `now`.

Pure: the adapter reads the file and the clock; this turns a StatusFile into a ReleaseView (the
JSON the page and `GET /api/releases/{id}` use), so any status file renders the same way
whether a daemon is running, the release is finished, or no orchd runs on this machine.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestrator.core import release_metrics as rm
from orchestrator.models.batch_id import format_batch_id, parse_batch_id
from orchestrator.models.dashboard import (
    ActiveAgent,
    Alert,
    BatchView,
    ErrorView,
    FuView,
    GateTestView,
    GateView,
    Progress,
    Question,
    ReleaseBranch,
    ReleaseView,
    Timeline,
    TimelineBar,
    TimelineGroup,
)
from orchestrator.models.status import BatchEntry, FuEntry, Gate, StatusFile

_CURSOR_AGENT_RE = re.compile(r"^bc-[A-Za-z0-9-]{1,100}$")
CURSOR_AGENT_URL = "https://cursor.com/agents/{agent_id}"
"""The agent in Cursor Web, as the API's `Agent.url` gives it (OpenAPI v1 example)."""


@dataclass(frozen=True)
class Place:
    """Where a release was found, and how to answer it from a shell."""

    release_id: str
    location: str  # in_progress, releases, archived/<folder>
    repo_root: str
    status_file: str | None = None
    file_written_at: datetime | None = None
    max_parallel: int | None = None


def agent_url(agent_id: str | None) -> str | None:
    """A link only for Cursor's own ids (`bc-…`); worker-written ids lead nowhere."""
    if agent_id and _CURSOR_AGENT_RE.match(agent_id):
        return CURSOR_AGENT_URL.format(agent_id=agent_id)
    return None


def _batch_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return format_batch_id(parse_batch_id(value))
    except ValueError:
        return str(value)[:24]


def _fu_end(fu: FuEntry, end: datetime) -> tuple[datetime | None, bool]:
    """Where an FU's bar ends, and whether it is still open (ends at now)."""
    if fu.completed_at is not None:
        return fu.completed_at, False
    if fu.started_at is not None and fu.duration_s is not None:
        return fu.started_at + timedelta(seconds=fu.duration_s), False
    if fu.status in rm.OUTSTANDING:
        return end, True
    return fu.last_update or fu.started_at, False


def _fu_view(fu: FuEntry, batch_id: str, end: datetime) -> FuView:
    ended, is_open = _fu_end(fu, end)
    return FuView(
        fu_id=fu.fu_id,
        batch_id=batch_id,
        status=fu.status,
        attempts=fu.attempts,
        priority=fu.priority,
        progress=fu.progress,
        agent_id=fu.worker_agent_id,
        agent_url=agent_url(fu.worker_agent_id),
        run_id=fu.run_id,
        branch=fu.branch or fu.delivered_branch,
        pr_url=fu.pr_url,
        started_at=fu.started_at,
        ended_at=None if is_open else ended,
        duration_s=fu.duration_s,
        merge_commit=fu.merge_commit,
        error=fu.error,
        note=fu.note,
    )


def _gate(gate: Gate | dict[str, Any] | None) -> GateView | None:
    """A batch's gate, or the full suite's (kept raw in the file's extras: read tolerantly)."""
    if gate is None:
        return None
    try:
        model = gate if isinstance(gate, Gate) else Gate.model_validate(gate)
    except ValidationError:
        return None
    return GateView(
        status=model.status,
        tests=[
            GateTestView(id=t.id, status=t.status, duration_s=t.duration_s, log=t.log)
            for t in model.tests
        ],
    )


def _batch_view(snapshot: StatusFile, batch: BatchEntry, now: datetime) -> BatchView:
    return BatchView(
        batch_id=format_batch_id(batch.batch_id),
        status=batch.status,
        started_at=batch.started_at,
        completed_at=batch.completed_at,
        fus=len(batch.feature_units),
        landed=sum(fu.status == "completed" for fu in batch.feature_units),
        mean_fu_duration_s=rm.mean_duration_s(batch.feature_units),
        seconds_since_progress=rm.seconds_since_progress(snapshot, batch, now),
        gate=_gate(batch.gate),
        candidate=batch.candidate,
        candidate_sha=batch.candidate_sha,
        landed_sha=batch.landed_sha,
    )


def _origin(snapshot: StatusFile) -> datetime | None:
    starts = [fu.started_at for fu in rm.all_fus(snapshot) if fu.started_at is not None]
    if snapshot.orchestrator.started_at is not None:
        starts.append(snapshot.orchestrator.started_at)
    return min(starts) if starts else None


def timeline(snapshot: StatusFile, now: datetime) -> Timeline:
    """One bar per launched FU (its latest attempt), grouped by batch in file order."""
    origin = _origin(snapshot)
    end = rm.release_end(snapshot, now)
    groups: list[TimelineGroup] = []
    span = 0.0
    for batch in snapshot.batches:
        batch_id = format_batch_id(batch.batch_id)
        bars, waiting = [], []
        for fu in batch.feature_units:
            if origin is None or fu.started_at is None:
                waiting.append(fu.fu_id)
                continue
            ended, is_open = _fu_end(fu, end)
            start_s = (fu.started_at - origin).total_seconds()
            end_s = max(((ended or fu.started_at) - origin).total_seconds(), start_s)
            failures = [
                round((e.at - origin).total_seconds(), 3)
                for e in snapshot.errors
                if e.fu_id == fu.fu_id and e.at is not None and e.at < fu.started_at
            ]
            span = max(span, end_s)
            bars.append(
                TimelineBar(
                    fu_id=fu.fu_id,
                    batch_id=batch_id,
                    status=fu.status,
                    attempts=fu.attempts,
                    start_s=round(start_s, 3),
                    end_s=round(end_s, 3),
                    open=is_open,
                    failures_s=failures,
                )
            )
        groups.append(
            TimelineGroup(batch_id=batch_id, status=batch.status, bars=bars, waiting=waiting)
        )
    now_s = None
    if origin is not None and not rm.is_over(snapshot):
        now_s = round(max((now - origin).total_seconds(), 0.0), 3)
        span = max(span, now_s)
    return Timeline(origin=origin, span_s=round(span, 3), now_s=now_s, groups=groups)


def decide_commands(
    release_id: str, repo_root: str, choices: list[str], batch_id: str | None
) -> list[str]:
    """The exact `orchd decide` line for each choice (`--batch` is checked by decide)."""
    batch = ["--batch", batch_id] if batch_id is not None else []
    return [
        shlex.join(["orchd", "decide", release_id, choice, *batch, "--repo-root", repo_root])
        for choice in choices
    ]


def question(snapshot: StatusFile, place: Place) -> Question | None:
    awaiting = snapshot.orchestrator.awaiting
    if not awaiting:
        return None
    raw_choices = awaiting.get("choices")
    choices = [str(c) for c in raw_choices] if isinstance(raw_choices, list) else []
    batch_id = _batch_text(awaiting.get("batch_id"))
    text = {k: awaiting.get(k) for k in ("since", "deadline", "reason")}
    return Question(
        kind=str(awaiting.get("kind") or "decision"),
        batch_id=batch_id,
        choices=choices,
        since=None if text["since"] is None else str(text["since"]),
        deadline=None if text["deadline"] is None else str(text["deadline"]),
        reason=None if text["reason"] is None else str(text["reason"]),
        commands=decide_commands(place.release_id, place.repo_root, choices, batch_id),
    )


def alerts(snapshot: StatusFile) -> list[Alert]:
    """`alerts[]` as written, whatever its shape: a dict's known keys, else its text. (Read by
    name, so it works whether the status model keeps it as an extra key or a typed field.)"""
    raw = getattr(snapshot, "alerts", None)
    if not isinstance(raw, list):
        return []
    found = []
    for entry in raw:
        item = entry.model_dump(mode="json") if isinstance(entry, BaseModel) else entry
        if isinstance(item, dict):
            kind = item.get("kind") or item.get("type") or item.get("alert") or "alert"
            message = item.get("message") or item.get("text") or item.get("summary") or ""
            at = item.get("at") or item.get("timestamp")
            fu_id = item.get("fu_id")
            found.append(
                Alert(
                    kind=str(kind),
                    message=str(message),
                    at=None if at is None else str(at),
                    batch_id=_batch_text(item.get("batch_id")),
                    fu_id=None if fu_id is None else str(fu_id),
                )
            )
        elif item is not None:
            found.append(Alert(kind="alert", message=str(item)))
    return found


def _active_agents(snapshot: StatusFile, now: datetime) -> list[ActiveAgent]:
    end = rm.release_end(snapshot, now)
    return [
        ActiveAgent(
            fu_id=fu.fu_id,
            status=fu.status,
            agent_id=fu.worker_agent_id,
            agent_url=agent_url(fu.worker_agent_id),
            branch=fu.branch,
            pr_url=fu.pr_url,
            started_at=fu.started_at,
            running_s=rm.running_s(fu, end),
        )
        for fu in rm.all_fus(snapshot)
        if fu.status in rm.ACTIVE_AGENT
    ]


def release_view(
    snapshot: StatusFile, notes: list[str], place: Place, now: datetime
) -> ReleaseView:
    end = rm.release_end(snapshot, now)
    orch = snapshot.orchestrator
    full_suite = getattr(snapshot, "full_suite", None)
    return ReleaseView(
        release_id=place.release_id,
        location=place.location,
        status_file=place.status_file,
        file_written_at=place.file_written_at,
        notes=notes,
        status=orch.status,
        started_at=orch.started_at,
        completed_at=orch.completed_at,
        current_batch=_batch_text(orch.current_batch),
        progress=rm.progress(snapshot, now, place.max_parallel),
        metrics=rm.metrics(snapshot, now, place.max_parallel),
        release_branch=ReleaseBranch(
            name=snapshot.integration_branch,
            head=snapshot.integration_sha,
            base_branch=snapshot.base_branch,
        ),
        awaiting=question(snapshot, place),
        alerts=alerts(snapshot),
        active_agents=_active_agents(snapshot, now),
        fus=[
            _fu_view(fu, format_batch_id(batch.batch_id), end)
            for batch in snapshot.batches
            for fu in batch.feature_units
        ],
        batches=[_batch_view(snapshot, batch, now) for batch in snapshot.batches],
        full_suite=_gate(full_suite) if isinstance(full_suite, dict | Gate) else None,
        timeline=timeline(snapshot, now),
        errors=[
            ErrorView(
                at=e.at,
                fu_id=e.fu_id,
                batch_id=None if e.batch_id is None else format_batch_id(e.batch_id),
                message=e.message,
            )
            for e in reversed(snapshot.errors)
        ],
    )


def unread_view(place: Place, status: str, read_error: str | None = None) -> ReleaseView:
    """A release with no status file yet (`not_started`), or one that cannot be read."""
    empty = StatusFile.model_validate(
        {"release_id": place.release_id, "orchestrator": {"agent_id": "", "status": status}}
    )
    return ReleaseView(
        release_id=place.release_id,
        location=place.location,
        status_file=place.status_file,
        file_written_at=place.file_written_at,
        read_error=read_error,
        status=status,
        progress=Progress(landed=0, total=0, percent=0.0, elapsed_s=None, eta_s=None),
        metrics=rm.metrics(empty, datetime.min.replace(tzinfo=UTC), place.max_parallel),
        release_branch=ReleaseBranch(name=None, head=None, base_branch=None),
        timeline=Timeline(origin=None, span_s=0.0, now_s=None, groups=[]),
    )
