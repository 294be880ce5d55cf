"""The SSE timeline of one run: which events exist at which simulated time, with stable ids.

The timeline is recomputed on every wake-up; cancelling only truncates events not yet due and
appends the terminal ones, so the index part of an id never changes meaning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.fakecursor.runs import Run

_TOOLS = ("read_file", "edit_file", "run_terminal_cmd")
_ID = re.compile(r"^(\d+)-(\d+)$")


@dataclass(frozen=True)
class StreamEvent:
    t_s: float
    event: str
    data: dict[str, Any]
    id: str | None  # `status` events carry no id (the spec replays them on reconnect)

    def encode(self) -> str:
        head = f"id: {self.id}\n" if self.id is not None else ""
        return f"{head}event: {self.event}\ndata: {json.dumps(self.data)}\n\n"


def _base_events(run: Run, heartbeat_s: float) -> list[tuple[float, str, dict[str, Any]]]:
    """The script of a run that nobody cancels, ending just before its terminal events."""
    start = run.running_s
    events: list[tuple[float, str, dict[str, Any]]] = [
        (start, "status", {"runId": run.id, "status": "RUNNING"})
    ]
    end = run.natural_end_s
    if end is None:  # a hang: RUNNING forever, silent or with heartbeats only
        beat = start + heartbeat_s
        while beat <= start + run.plan.hang_heartbeats_s:
            events.append((beat, "heartbeat", {}))
            beat += heartbeat_s
        return events
    what = run.fu_id or "the task"
    events.append((start, "assistant", {"text": f"Starting work on {what}."}))
    span = end - start
    calls = run.plan.tool_calls
    for k in range(1, calls + 1):
        t_call = start + span * k / (calls + 1)
        call = {"callId": f"call-{k}", "name": _TOOLS[(k - 1) % len(_TOOLS)]}
        events.append((t_call, "tool_call", {**call, "status": "running", "args": {"step": k}}))
        done_at = t_call + span / (2 * (calls + 1))
        result = {"success": {"step": k}}
        events.append(
            (
                done_at,
                "tool_call",
                {**call, "status": "completed", "args": {"step": k}, "result": result},
            )
        )
    every = run.plan.thinking_every_s
    if every is not None:
        thought = start + every
        while thought < end:
            events.append((thought, "thinking", {"text": f"Working on {what}."}))
            thought += every
    beat = start + heartbeat_s
    while beat < end:
        events.append((beat, "heartbeat", {}))
        beat += heartbeat_s
    events.sort(key=lambda e: e[0])
    return events


def timeline(
    run: Run, git: dict[str, Any] | None, heartbeat_s: float, epoch_ms: int
) -> list[StreamEvent]:
    """All events the run will emit as far as is known now (terminal ones once scheduled)."""
    cancelled = run.cancelled_s
    raw = [e for e in _base_events(run, heartbeat_s) if cancelled is None or e[0] <= cancelled]
    end = cancelled if cancelled is not None else run.natural_end_s
    if end is not None and end >= run.created_s:
        status = run.status(end)
        if status == "ERROR":
            raw.append((end, "error", {"code": "internal_error", "message": run.result_text()}))
        result: dict[str, Any] = {
            "runId": run.id,
            "status": status,
            "text": "Run cancelled." if status == "CANCELLED" else run.result_text(),
            "durationMs": round((end - run.created_s) * 1000),
        }
        if git is not None:
            result["git"] = git
        raw.append((end, "result", result))
        raw.append((end, "status", {"runId": run.id, "status": status}))
        raw.append((end, "done", {"runId": run.id, "status": status}))
    out: list[StreamEvent] = []
    for index, (t_s, event, data) in enumerate(raw):
        event_id = None if event == "status" else f"{epoch_ms + round(t_s * 1000)}-{index}"
        out.append(StreamEvent(t_s, event, data, event_id))
    return out


def resume_position(events: list[StreamEvent], last_event_id: str) -> int | None:
    """Index just after `last_event_id`, or None when the id is not one of this run's."""
    match = _ID.match(last_event_id.strip())
    if match is None:
        return None
    index = int(match.group(2))
    if index >= len(events) or events[index].id != last_event_id.strip():
        return None
    return index + 1
