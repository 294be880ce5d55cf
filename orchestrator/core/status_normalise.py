"""Turn any parsed `agent_status.json` into a StatusFile, saying what was odd; never raises.

Real files were written by the original script, by worker agents in their own clones, or by
hand: statuses `blocked`/`deferred`, invented agent ids (`gpt-5.1-codex`), `completed_fus` as
objects, `errors[]` with `timestamp` instead of `at`, microsecond and `Z` timestamps, three
batches all numbered 0 (the script's parseInt). Normalise what can be, keep the rest.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchestrator.models.batch_id import format_batch_id, parse_batch_id
from orchestrator.models.status import (
    AlertEntry,
    BatchEntry,
    BatchStatus,
    ErrorEntry,
    FuEntry,
    FuStatus,
    Gate,
    OrchestratorEntry,
    ReleaseStatus,
    StatusFile,
)

_M = TypeVar("_M", bound=BaseModel)
_CURSOR_AGENT_ID_RE = re.compile(r"^bc[-_][A-Za-z0-9-]+$")
_FU_STATUS_ALIASES = {
    "succeeded": FuStatus.COMPLETED,
    "success": FuStatus.COMPLETED,
    "done": FuStatus.COMPLETED,
    "finished": FuStatus.COMPLETED,
    "complete": FuStatus.COMPLETED,
    "error": FuStatus.FAILED,
    "errored": FuStatus.FAILED,
    "in_progress": FuStatus.RUNNING,
    "started": FuStatus.RUNNING,
    "not_started": FuStatus.PENDING,
    "queued": FuStatus.PENDING,
}
# The statuses the original script wrote; orchd writes every FuStatus. Any other status in an
# entry orchd did not write came from a worker or a hand edit (`blocked`, `deferred`, …).
_SCRIPT_STATUSES = {FuStatus.PENDING, FuStatus.RUNNING, FuStatus.COMPLETED, FuStatus.FAILED}
# The seed's FU keys (README, and what the script and workers wrote); every other FuEntry field
# is orchd's own, and orchd writes them all, so an entry carrying one of them is orchd's.
_SEED_FU_FIELDS = {"fu_id", "worker_agent_id", "status", "progress", "started_at", "last_update"}
_SEED_FU_FIELDS |= {"completed_at", "error"}
_ORCHD_FU_FIELDS = set(FuEntry.model_fields) - _SEED_FU_FIELDS
# how orchd words the reason it records with blocked/deferred (a file from before the markers)
_ORCHD_REASONS = ("blocked: dependency", "deferred: batch skipped", "deferred by the manifest")
_FU_FIELDS = set(FuEntry.model_fields)
_BATCH_FIELDS = set(BatchEntry.model_fields)
_ORCH_FIELDS = set(OrchestratorEntry.model_fields)
_ERROR_FIELDS = set(ErrorEntry.model_fields)
_TOP_FIELDS = set(StatusFile.model_fields)
_ALERT_FIELDS = set(AlertEntry.model_fields)


class _Notes:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, text: str) -> None:
        self.items.append(f"{where}: {text}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(value: Any, where: str, notes: _Notes, *, default: str | None = None) -> str | None:
    if value is None or isinstance(value, str):
        return value if value is not None else default
    if isinstance(value, bool | int | float):
        notes.add(where, f"expected text, got {_short(value)}; converted")
        return str(value)
    notes.add(where, f"expected text, got {type(value).__name__}; dropped")
    return default


def _timestamp(value: Any, where: str, notes: _Notes) -> datetime | None:
    """ISO text (with `Z`, microseconds, or naive = UTC) or epoch seconds/milliseconds."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:
                notes.add(where, f"timestamp {value!r} has no time zone; assumed UTC")
                parsed = parsed.replace(tzinfo=UTC)
            return parsed
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value
            notes.add(where, f"timestamp given as a number ({value}); read as epoch time")
            return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    notes.add(where, f"not a timestamp: {_short(value)}; dropped")
    return None


def _batch_id(value: Any, where: str, notes: _Notes) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_batch_id(value)
    except ValueError:
        notes.add(where, f"not a batch id: {_short(value)}; dropped")
        return None


def _number(value: Any, where: str, notes: _Notes) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        notes.add(where, f"expected a number, got {_short(value)}; dropped")
        return None
    if not math.isfinite(value):
        notes.add(where, f"not a finite number: {value}; dropped")
        return None
    return float(value)


def _positive(value: Any, where: str, notes: _Notes) -> float | None:
    """A number above 0, else None (said when it was something else)."""
    number = _number(value, where, notes)
    if number is not None and number <= 0:
        notes.add(where, f"{number} is not above 0; dropped")
        return None
    return number


def _count(value: Any, where: str, notes: _Notes) -> int | None:
    """A whole number above 0, else None (said when it was something else)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        notes.add(where, f"{_short(value)} is not a count above 0; dropped")
        return None
    return value


def _extras(raw: dict[str, Any], known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if isinstance(k, str) and k not in known}


def _written_by_orchd(raw: dict[str, Any]) -> bool:
    """The entry carries orchd's own fields, or the reason orchd gives a block or deferral."""
    if any(key in raw for key in _ORCHD_FU_FIELDS):
        return True
    return str(raw.get("error") or "").startswith(_ORCHD_REASONS)


def _fu_status(value: Any, where: str, notes: _Notes, *, orchd: bool = False) -> str:
    """`orchd`: the entry is orchd's own (see `_written_by_orchd`), so any FuStatus is its."""
    if not isinstance(value, str):
        notes.add(where, f"status {_short(value)} is not text; read as pending")
        return FuStatus.PENDING.value
    lowered = value.strip().lower()
    if lowered in {s.value for s in FuStatus}:
        status = FuStatus(lowered)
        if status not in _SCRIPT_STATUSES and not orchd:
            notes.add(where, f"status {value!r} was written by a worker or by hand, not by orchd")
        elif lowered != value:
            notes.add(where, f"status {value!r} normalised to {lowered!r}")
        return status.value
    if lowered in _FU_STATUS_ALIASES:
        mapped = _FU_STATUS_ALIASES[lowered].value
        notes.add(where, f"status {value!r} read as {mapped!r}")
        return mapped
    notes.add(where, f"unknown status {value!r}; kept as is")
    return value


def _fu(raw: Any, where: str, notes: _Notes) -> FuEntry | None:
    if not isinstance(raw, dict):
        notes.add(where, f"expected an object, got {_short(raw)}; dropped")
        return None
    fu_id = _text(raw.get("fu_id"), f"{where}.fu_id", notes)
    if not fu_id:
        notes.add(where, "entry has no fu_id; dropped")
        return None
    where = f"{where}[{fu_id}]"
    agent = _text(raw.get("worker_agent_id"), f"{where}.worker_agent_id", notes)
    if agent and not _CURSOR_AGENT_ID_RE.match(agent):
        notes.add(
            where, f"worker_agent_id {agent!r} is not a Cursor agent id; orchd won't adopt it"
        )
    progress = _number(raw.get("progress"), f"{where}.progress", notes) or 0.0
    if progress > 1:
        notes.add(where, f"progress {progress} read as a percentage")
        progress = min(progress / 100, 1.0)
    if progress < 0:
        notes.add(where, f"negative progress {progress}; read as 0")
        progress = 0.0
    attempts_raw = raw.get("attempts", 0)
    attempts = (
        attempts_raw if isinstance(attempts_raw, int) and not isinstance(attempts_raw, bool) else 0
    )
    if attempts != attempts_raw:
        notes.add(where, f"attempts {_short(attempts_raw)} is not a count; read as 0")
    data: dict[str, Any] = _extras(raw, _FU_FIELDS)
    data.update(
        fu_id=fu_id,
        worker_agent_id=agent,
        status=_fu_status(
            raw.get("status", "pending"),
            where,
            notes,
            orchd=_written_by_orchd(raw),
        ),
        progress=progress,
        attempts=max(attempts, 0),
        started_at=_timestamp(raw.get("started_at"), f"{where}.started_at", notes),
        last_update=_timestamp(raw.get("last_update"), f"{where}.last_update", notes),
        completed_at=_timestamp(raw.get("completed_at"), f"{where}.completed_at", notes),
        duration_s=_number(raw.get("duration_s"), f"{where}.duration_s", notes),
        estimate_h=_positive(raw.get("estimate_h"), f"{where}.estimate_h", notes),
    )
    for name in ("run_id", "priority", "risk_level", "branch", "pr_url", "error", "summary"):
        data[name] = _text(raw.get(name), f"{where}.{name}", notes)
    for name in ("base_sha", "delivered_branch", "delivered_sha", "merge_commit", "note"):
        data[name] = _text(raw.get(name), f"{where}.{name}", notes)
    data["landed_at"] = _timestamp(raw.get("landed_at"), f"{where}.landed_at", notes)
    for name in ("run_requested_at", "run_started_at"):
        data[name] = _timestamp(raw.get(name), f"{where}.{name}", notes)
    data["run_time_s"] = max(_number(raw.get("run_time_s"), f"{where}.run_time_s", notes) or 0, 0)
    rounds = raw.get("conflict_rounds", 0)
    valid = isinstance(rounds, int) and not isinstance(rounds, bool)
    data["conflict_rounds"] = rounds if valid else 0
    budget = raw.get("retry_budget_from", 1)
    valid = isinstance(budget, int) and not isinstance(budget, bool) and budget >= 1
    data["retry_budget_from"] = budget if valid else 1
    return _build(FuEntry, data, where, notes)


def _build(model: type[_M], data: dict[str, Any], where: str, notes: _Notes) -> _M:
    """Validate cleaned data; if an extra key still upsets pydantic, drop the extras."""
    try:
        return model.model_validate(data)
    except (ValidationError, ValueError, TypeError):
        known = {k: v for k, v in data.items() if k in model.model_fields}
        notes.add(where, "unusual extra keys dropped")
        return model.model_validate(known)


def _batch(raw: Any, index: int, notes: _Notes) -> BatchEntry | None:
    where = f"batches[{index}]"
    if not isinstance(raw, dict):
        notes.add(where, f"expected an object, got {_short(raw)}; dropped")
        return None
    batch_id = _batch_id(raw.get("batch_id"), f"{where}.batch_id", notes)
    if batch_id is None:
        notes.add(where, "batch has no usable batch_id; dropped")
        return None
    status = _text(raw.get("status"), f"{where}.status", notes, default="pending") or "pending"
    if status not in {s.value for s in BatchStatus}:
        notes.add(where, f"unknown batch status {status!r}; kept as is")
    fus_raw = raw.get("feature_units", [])
    if not isinstance(fus_raw, list):
        notes.add(where, "feature_units is not a list; dropped")
        fus_raw = []
    fus = [
        entry
        for i, item in enumerate(fus_raw)
        if (entry := _fu(item, f"{where}.feature_units[{i}]", notes)) is not None
    ]
    gate: Gate | None = None
    if raw.get("gate") is not None:
        try:
            gate = Gate.model_validate(raw["gate"])
        except (ValidationError, ValueError, TypeError):
            notes.add(where, "gate is malformed; dropped")
    data = _extras(raw, _BATCH_FIELDS)
    data.update(
        batch_id=batch_id,
        status=status,
        started_at=_timestamp(raw.get("started_at"), f"{where}.started_at", notes),
        completed_at=_timestamp(raw.get("completed_at"), f"{where}.completed_at", notes),
        feature_units=fus,
        gate=gate,
    )
    for name in ("candidate", "candidate_sha", "landed_sha"):
        data[name] = _text(raw.get(name), f"{where}.{name}", notes)
    return _build(BatchEntry, data, where, notes)


def _orchestrator(raw: Any, notes: _Notes) -> OrchestratorEntry:
    where = "orchestrator"
    if not isinstance(raw, dict):
        notes.add(where, "missing or not an object; using an empty one")
        raw = {}
    status = _text(raw.get("status"), f"{where}.status", notes, default="running") or "running"
    if status not in {s.value for s in ReleaseStatus}:
        notes.add(where, f"unknown release status {status!r}; kept as is")
    pid = raw.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int)):
        notes.add(where, f"pid {_short(pid)} is not a number; dropped")
        pid = None
    awaiting = raw.get("awaiting")
    if awaiting is not None and not isinstance(awaiting, dict):
        notes.add(where, "awaiting is not an object; dropped")
        awaiting = None
    data = _extras(raw, _ORCH_FIELDS)
    data.update(
        agent_id=_text(raw.get("agent_id"), f"{where}.agent_id", notes, default="") or "",
        started_at=_timestamp(raw.get("started_at"), f"{where}.started_at", notes),
        current_batch=_batch_id(raw.get("current_batch"), f"{where}.current_batch", notes),
        status=status,
        pid=pid,
        completed_at=_timestamp(raw.get("completed_at"), f"{where}.completed_at", notes),
        awaiting=awaiting,
        first_started_at=_timestamp(
            raw.get("first_started_at"), f"{where}.first_started_at", notes
        ),
        ended_at=_timestamp(raw.get("ended_at"), f"{where}.ended_at", notes),
        max_parallel_fus=_count(raw.get("max_parallel_fus"), f"{where}.max_parallel_fus", notes),
    )
    return _build(OrchestratorEntry, data, where, notes)


def _error(raw: Any, index: int, notes: _Notes) -> ErrorEntry:
    where = f"errors[{index}]"
    if not isinstance(raw, dict):
        notes.add(where, "a bare value instead of an object; kept as the message")
        return ErrorEntry(message=raw if isinstance(raw, str) else _short(raw))
    at_raw = raw.get("at")
    if at_raw is None and "timestamp" in raw:
        notes.add(where, "uses 'timestamp' instead of 'at'")
        at_raw = raw.get("timestamp")
    data = _extras(raw, _ERROR_FIELDS)
    data.update(
        at=_timestamp(at_raw, f"{where}.at", notes),
        fu_id=_text(raw.get("fu_id"), f"{where}.fu_id", notes),
        batch_id=_batch_id(raw.get("batch_id"), f"{where}.batch_id", notes),
        message=_text(raw.get("message"), f"{where}.message", notes, default="") or "",
    )
    return _build(ErrorEntry, data, where, notes)


def _alert(raw: Any, index: int, notes: _Notes) -> AlertEntry | None:
    """An alert as orchd writes it, or as a person or another tool did (`type`, `text`, a bare
    string): kept, so the dashboard still shows it."""
    where = f"alerts[{index}]"
    if raw is None:
        notes.add(where, "null; dropped")
        return None
    if not isinstance(raw, dict):
        text = raw if isinstance(raw, str) else _short(raw)
        return AlertEntry(key=f"alert/{index}", kind="alert", message=text)
    kind = raw.get("kind") or raw.get("type") or raw.get("alert") or "alert"
    message = raw.get("message") or raw.get("text") or raw.get("summary") or ""
    data = _extras(raw, _ALERT_FIELDS | {"type", "text", "summary", "alert", "timestamp"})
    data.update(
        key=str(raw.get("key") or f"{kind}/{index}"),
        kind=str(kind),
        message=message if isinstance(message, str) else _short(message),
        at=_timestamp(raw.get("at") or raw.get("timestamp"), f"{where}.at", notes),
        fu_id=_text(raw.get("fu_id"), f"{where}.fu_id", notes),
        batch_id=_batch_id(raw.get("batch_id"), f"{where}.batch_id", notes),
    )
    return _build(AlertEntry, data, where, notes)


def _alerts(raw: Any, notes: _Notes) -> list[AlertEntry]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        notes.add("alerts", "not a list; dropped")
        return []
    return [a for i, item in enumerate(raw) if (a := _alert(item, i, notes)) is not None]


def _completed(raw: Any, notes: _Notes) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        notes.add("completed_fus", "not a list; dropped")
        return []
    result: list[str] = []
    objects = 0
    for item in raw:
        if isinstance(item, str):
            fu_id: Any = item
        elif isinstance(item, dict) and isinstance(item.get("fu_id"), str):
            objects += 1
            fu_id = item["fu_id"]
        else:
            notes.add("completed_fus", f"entry {_short(item)} has no FU id; dropped")
            continue
        if fu_id not in result:
            result.append(fu_id)
    if objects:
        notes.add("completed_fus", f"{objects} entries are objects, not FU ids; read their fu_id")
    return result


def normalise_status(raw: Any) -> tuple[StatusFile, list[str]]:
    """A StatusFile from any JSON value, plus one line per oddity found."""
    notes = _Notes()
    if not isinstance(raw, dict):
        notes.add("agent_status.json", f"top level is {type(raw).__name__}, not an object")
        raw = {}
    release_id = _text(raw.get("release_id"), "release_id", notes, default="") or ""
    if not release_id:
        notes.add("release_id", "missing")
    batches_raw = raw.get("batches", [])
    if not isinstance(batches_raw, list):
        notes.add("batches", "not a list; dropped")
        batches_raw = []
    batches = [b for i, item in enumerate(batches_raw) if (b := _batch(item, i, notes)) is not None]
    counts: dict[Decimal, int] = {}
    for batch in batches:
        counts[batch.batch_id] = counts.get(batch.batch_id, 0) + 1
    for batch_id, count in counts.items():
        if count > 1:
            notes.add(
                "batches",
                f"batch {format_batch_id(batch_id)} appears {count} times (the original "
                "script's parseInt turned 0.5/0.6 into 0)",
            )
    errors_raw = raw.get("errors", [])
    if not isinstance(errors_raw, list):
        notes.add("errors", "not a list; kept as one message")
        errors_raw = [errors_raw]
    data = _extras(raw, _TOP_FIELDS)
    data.update(
        release_id=release_id,
        orchestrator=_orchestrator(raw.get("orchestrator"), notes),
        batches=batches,
        errors=[_error(item, i, notes) for i, item in enumerate(errors_raw)],
        alerts=_alerts(raw.get("alerts"), notes),
        completed_fus=_completed(raw.get("completed_fus"), notes),
    )
    for name in ("integration_branch", "integration_sha", "base_branch", "run_nonce"):
        data[name] = _text(raw.get(name), name, notes)
    status = _build(StatusFile, data, "agent_status.json", notes)
    _cross_check(status, notes)
    return status, notes.items


def _cross_check(status: StatusFile, notes: _Notes) -> None:
    """Contradictions between fields that workers writing the file by hand left behind."""
    by_status = {e.fu_id: e.status for b in status.batches for e in b.feature_units}
    listed = set(status.completed_fus)
    for fu_id in sorted(listed):
        if fu_id in by_status and by_status[fu_id] != "completed":
            notes.add("completed_fus", f"lists {fu_id}, whose status is {by_status[fu_id]}")
    for fu_id, fu_status in sorted(by_status.items()):
        if fu_status == "completed" and fu_id not in listed:
            notes.add("completed_fus", f"misses {fu_id}, whose status is completed")
    orch = status.orchestrator
    if orch.status == "running" and orch.pid is None:
        notes.add(
            "orchestrator.status",
            "says running but names no orchd process (written by another tool, or stale)",
        )
