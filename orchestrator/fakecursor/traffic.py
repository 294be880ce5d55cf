"""What the fake saw: the request log and the counters tests assert on (`/_fake/stats`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.fakecursor.runs import Run


@dataclass
class RequestRecord:
    seq: int
    method: str
    path: str
    started_s: float  # server clock seconds since the fake started (unscaled)
    fu_id: str | None = None
    status: int | None = None  # None: the connection was dropped
    duration_s: float | None = None
    fault: str | None = None  # "rate_limit" | "server_error" | "drop" | "agent_cap" | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def start(self, method: str, path: str, started_s: float) -> RequestRecord:
        record = RequestRecord(len(self.records) + 1, method, path, started_s)
        self.records.append(record)
        return record

    def summary(self) -> dict[str, Any]:
        by_status = Counter(str(r.status) for r in self.records if r.status is not None)
        faults = Counter(r.fault for r in self.records if r.fault)
        return {
            "requests_total": len(self.records),
            "requests_by_status": dict(sorted(by_status.items())),
            "rate_limited": faults["rate_limit"],
            "server_errors_injected": faults["server_error"],
            "dropped": faults["drop"],
        }


def concurrency(runs: list[Run], t_s: float, *, running_only: bool) -> list[dict[str, float]]:
    """Step function of how many runs were active (or RUNNING) over simulated time.

    Ends sort before starts at the same instant, so back-to-back runs never count as overlap.
    """
    edges: list[tuple[float, int]] = []
    for run in runs:
        start = run.running_s if running_only else run.created_s
        ended = run.ended_s(t_s)
        if running_only and not run.reached_running(t_s):
            continue
        if start > t_s:
            continue
        edges.append((start, 1))
        if ended is not None:
            edges.append((ended, -1))
    edges.sort(key=lambda e: (e[0], e[1]))
    level = 0
    steps: list[dict[str, float]] = []
    for when, delta in edges:
        level += delta
        if steps and steps[-1]["t_s"] == when:
            steps[-1]["count"] = level
        else:
            steps.append({"t_s": when, "count": level})
    return steps


def run_stats(runs: list[Run], t_s: float) -> dict[str, Any]:
    active = concurrency(runs, t_s, running_only=False)
    running = concurrency(runs, t_s, running_only=True)
    return {
        "max_concurrent_active": int(max((s["count"] for s in active), default=0)),
        "max_concurrent_running": int(max((s["count"] for s in running), default=0)),
        "concurrency_timeline": active,
        "running_timeline": running,
        "runs": [
            {
                "run_id": r.id,
                "agent_id": r.agent_id,
                "fu_id": r.fu_id,
                "status": r.status(t_s),
                "created_s": r.created_s,
                "ended_s": r.ended_s(t_s),
            }
            for r in runs
        ],
    }
