"""`make bench` (part 3): does one orchd keep up with N agents at once (issue 12 §2)?

A synthetic release of N independent FUs in one batch, `max_parallel_fus` = N, against
`orchd fake-cursor` in its own process over loopback. Runs leave CREATING spread evenly over the
first `--spread-s` seconds (launches are not instant on the real service: 100 cohorts, each its
own scenario entry) and then work `--run-s` seconds ± a third, with the fake's default tool
calls and heartbeats, so each run's end is on the fake's clock. Each repetition runs in a fresh
child process (peak RSS is per process). The merge queue is replaced by one that merges without
git: this measures supervision (launches, streams, polls, the status file), not git.

Printed per N and mode (SSE, or polling every `--poll-s`), median [min–max] over the
repetitions: requests/s the fake answered (streams included), status-file writes/s and KiB/s,
detection latency p50/p95 (a run's end on the fake's clock → the FU shown delivered in the
status file orchd writes: its `last_update`, when orchd's engine recorded it; `on disk` is when
the file showing it was on disk), event-loop lag p99 and max (a 50 ms ticker in orchd's loop),
CPU as % of one core (orchd's process alone, over the whole release and over the steady stretch
while every run works), peak RSS, and the fake's CPU (on a small machine a busy fake delays what
orchd can see). A repetition takes about 2.5 minutes, the defaults about half an hour
(`--agents 2000 --modes sse --repeat 1` for a quick look). Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
from pydantic import SecretStr

from orchestrator.adapters.cursor.settings import CursorSettings
from orchestrator.adapters.git import GitCache
from orchestrator.adapters.logging import configure_logging
from orchestrator.daemon import RunEnv, run_release
from orchestrator.engine.merge_queue import (
    Delivery,
    GateFn,
    GateVerdict,
    Landed,
    LandResult,
    Merged,
    MergeQueue,
    MergeResult,
)
from orchestrator.engine.settings import EngineSettings, GateSettings
from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.models.release import Batch, FeatureUnit, Limits, ReleasePlan
from orchestrator.models.status import StatusFile

KEY = "bench-key"
REPO = "https://bench.invalid/acme/bench.git"  # not local: the fake agents do no git
_DONE = {"delivered", "merged", "completed"}
_TICK_S = 0.05


class InstantQueue(MergeQueue):
    """A merge queue without git: every delivered branch merges, every batch lands."""

    def __init__(self, release_id: str, scratch: Path) -> None:
        super().__init__(
            GitCache(REPO, scratch / "unused.git"),
            release_id=release_id,
            branch=f"release/{release_id}",
            base_branch="main",
            worktrees=scratch / "worktrees",
        )
        self._merged: dict[Decimal, list[tuple[str, str]]] = {}

    async def open(self, attempts: dict[Decimal, int] | None = None) -> str:
        self.head = _sha("base")
        return self.head

    async def branch_sha(self, branch: str) -> str | None:
        return _sha(branch)

    async def merge(self, batch_id: Decimal, delivery: Delivery) -> MergeResult:
        merge = _sha(f"merge {delivery.fu_id}")
        self._merged.setdefault(batch_id, []).append((delivery.fu_id, merge))
        return Merged(merge, f"orchd/{self.release_id}/cand/b{batch_id}.1", merge)

    async def land(self, batch_id: Decimal, gate: GateFn) -> LandResult:
        merges = tuple(self._merged.pop(batch_id, []))
        self.head = merges[-1][1] if merges else self.head
        return Landed(self.head, merges)

    async def gate_head(self, gate: GateFn) -> GateVerdict:
        return GateVerdict(passed=True)

    async def drop(self, batch_id: Decimal) -> list[str]:
        return []


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


_COHORTS = 100  # FUs start in this many groups, 0.3 s apart over the default 30 s


def _plan(n: int) -> ReleasePlan:
    """N independent FUs; FU i's title names its cohort, which the fake's scenario keys on
    (a scenario key per FU would make the fake's create O(N): it matches keys one by one).
    The ids are not `FU-<number>`: the fake would take that id from the agent's name first."""
    units = tuple(
        FeatureUnit(id=f"FU-{i % _COHORTS:02d}-{i:04d}", name=f"bench cohort{i % _COHORTS:02d}")
        for i in range(n)
    )
    return ReleasePlan(
        release_id="v0.0.0-scale",
        release_dir="/nonexistent",
        limits=Limits(max_parallel_fus=n, max_high_risk_in_parallel=1),
        feature_units=units,
        batches=(Batch(batch_id=Decimal(0), feature_units=tuple(u.id for u in units)),),
    )


def _scenario(spread_s: float, run_s: float, seed: int) -> dict[str, Any]:
    """Real seconds (time scale 1): cohort k of 100 leaves CREATING at k/100 of `spread_s`, and its
    runs last `run_s` ± a third (a different length per cohort)."""
    rng = random.Random(seed)
    fus = {
        f"cohort{k:02d}": {
            "creating_s": round(spread_s * (k + 0.5) / _COHORTS, 3),
            "duration_s": round(run_s * rng.uniform(2 / 3, 4 / 3), 3),
        }
        for k in range(_COHORTS)
    }
    return {"time_scale": 1.0, "seed": seed, "fus": fus}


@dataclass
class Watch:
    """What orchd's status file showed, seen from its writer hook (after each write)."""

    path: Path
    writes: int = 0
    bytes: int = 0
    first_write_s: float | None = None
    last_write_s: float | None = None
    recorded: dict[str, float] = field(default_factory=dict)  # agent → engine record (wall s)
    on_disk: dict[str, float] = field(default_factory=dict)  # agent → file on disk (wall s)
    _seen: dict[str, object] = field(default_factory=dict)

    def __call__(self, snapshot: StatusFile) -> None:
        now = time.time()
        self.writes += 1
        self.first_write_s = self.first_write_s or now
        self.last_write_s = now
        with contextlib.suppress(OSError):
            self.bytes += self.path.stat().st_size
        for batch in snapshot.batches:
            for entry in batch.feature_units:
                if self._seen.get(entry.fu_id) is entry:  # copy-on-write: unchanged
                    continue
                self._seen[entry.fu_id] = entry
                agent = entry.worker_agent_id
                if agent is None or agent in self.on_disk or entry.status not in _DONE:
                    continue
                self.on_disk[agent] = now
                if entry.last_update is not None:
                    self.recorded[agent] = entry.last_update.timestamp()


async def _lag_ticker(lags: list[float], cpu: list[tuple[float, float]]) -> None:
    """How late the event loop wakes a task that sleeps `_TICK_S`; and the process's CPU time
    at each tick (wall s, CPU s), for the CPU of a stretch."""
    while True:
        before = time.perf_counter()
        await anyio.sleep(_TICK_S)
        lags.append(max(0.0, time.perf_counter() - before - _TICK_S))
        cpu.append((time.time(), time.process_time()))


def _cpu_between(cpu: list[tuple[float, float]], start: float, end: float) -> float:
    """% of one core from `start` to `end` (wall s); NaN for a stretch under 5 s."""
    inside = [c for c in cpu if start <= c[0] <= end]
    if end - start < 5 or len(inside) < 2:
        return float("nan")
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return 100 * (c1 - c0) / (t1 - t0)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_s(pid: int) -> float:
    """CPU seconds of another process so far (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _once(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    n, stream = args.child_agents, args.child_mode == "sse"
    scenario = workdir / "scenario.json"
    scenario_doc = _scenario(args.spread_s, args.run_s, args.seed)
    scenario.write_text(json.dumps(scenario_doc))
    configure_logging(level="error")
    fake = FakeCursorProcess(api_key=KEY, scenario=scenario)
    status = workdir / "agent_status.json"
    watch = Watch(status)
    lags: list[float] = []
    cpu_ticks: list[tuple[float, float]] = []
    try:
        settings = EngineSettings(
            repo_url=REPO,
            state_dir=workdir / "state",
            poll_interval_s=args.poll_s if not stream else 60.0,
            stale_after_s=15 * 60.0,
            max_duration_s=3600.0,
            use_stream=stream,
            gate=GateSettings(template=None, full_suite_after_last=False),
        )
        run_env = RunEnv(
            cursor=CursorSettings(base_url=fake.url, api_key=SecretStr(KEY)),
            repo_url=REPO,
            release_branch="main",
        )
        plan = _plan(n)

        async def main() -> str:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_lag_ticker, lags, cpu_ticks)
                outcome = await run_release(
                    plan,
                    settings,
                    run_env,
                    status,
                    install_signal_handlers=False,
                    on_change=watch,
                    queue=InstantQueue(plan.release_id, workdir),
                )
                tasks.cancel_scope.cancel()
            return outcome.status.value

        before = resource.getrusage(resource.RUSAGE_SELF)
        fake_before = _cpu_s(fake.proc.pid)
        t0 = time.time()
        ended = anyio.run(main)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        fake_cpu = _cpu_s(fake.proc.pid) - fake_before
        fake_now = time.time()  # the idle fake reads its clock as the request arrives
        stats = httpx.get(f"{fake.root}/_fake/stats", timeout=60).json()
    finally:
        fake.stop()
    if ended != "completed":
        raise SystemExit(f"bench release ended {ended}")
    scale = stats["time_scale"]
    run_end: dict[str, float] = {}  # agent → its (last) run's end, on the wall clock
    for run in stats["runs"]:
        if run["ended_s"] is not None:
            wall_end = fake_now - (stats["sim_time_s"] - run["ended_s"]) / scale
            run_end[run["agent_id"]] = max(run_end.get(run["agent_id"], 0.0), wall_end)
    creating = {key: fu["creating_s"] for key, fu in scenario_doc["fus"].items()}
    all_working = max(
        fake_now - (stats["sim_time_s"] - run["created_s"] - creating.get(run["fu_id"], 0)) / scale
        for run in stats["runs"]
    )
    detect = [watch.recorded[a] - t for a, t in run_end.items() if a in watch.recorded]
    disk = [watch.on_disk[a] - t for a, t in run_end.items() if a in watch.on_disk]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": wall,
        "requests_per_s": stats["requests_total"] / wall,
        "writes_per_s": watch.writes / wall,
        "kib_per_s": watch.bytes / 1024 / wall,
        "detect_p50_s": _pct(detect, 0.5),
        "detect_p95_s": _pct(detect, 0.95),
        "disk_p95_s": _pct(disk, 0.95),
        "lag_p99_ms": 1000 * _pct(lags, 0.99),
        "lag_max_ms": 1000 * max(lags, default=0.0),
        "cpu_pct": 100 * cpu / wall,
        "steady_cpu_pct": _cpu_between(cpu_ticks, all_working, min(run_end.values())),
        "rss_mib": after.ru_maxrss / 1024,
        "fake_cpu_pct": 100 * fake_cpu / wall,
    }


_COLUMNS = {
    "requests_per_s": ("req/s", "{:.0f}"),
    "writes_per_s": ("writes/s", "{:.2f}"),
    "kib_per_s": ("KiB/s", "{:.0f}"),
    "detect_p50_s": ("detect p50 s", "{:.2f}"),
    "detect_p95_s": ("detect p95 s", "{:.2f}"),
    "disk_p95_s": ("on disk p95 s", "{:.2f}"),
    "lag_p99_ms": ("lag p99 ms", "{:.0f}"),
    "lag_max_ms": ("lag max ms", "{:.0f}"),
    "cpu_pct": ("CPU %", "{:.1f}"),
    "steady_cpu_pct": ("steady CPU %", "{:.1f}"),
    "rss_mib": ("RSS MiB", "{:.0f}"),
    "fake_cpu_pct": ("fake CPU %", "{:.0f}"),
    "wall_s": ("wall s", "{:.0f}"),
}


def _child(args: argparse.Namespace, n: int, mode: str) -> dict[str, float]:
    argv = [sys.executable, "-m", "tests.bench.bench_scale", "--child-agents", str(n)]
    argv += ["--child-mode", mode, "--spread-s", str(args.spread_s), "--run-s", str(args.run_s)]
    argv += ["--poll-s", str(args.poll_s), "--seed", str(args.seed)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _spread(values: list[float], fmt: str) -> str:
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", default="200,1000,2000", help="comma-separated N")
    parser.add_argument("--modes", default="sse,poll", help="sse, poll or both")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--repeat-large", type=int, default=2, help="repetitions at N >= 2000")
    parser.add_argument("--spread-s", type=float, default=30.0, help="starts spread over this")
    parser.add_argument("--run-s", type=float, default=90.0, help="mean real seconds per run")
    parser.add_argument("--poll-s", type=float, default=10.0, help="the poll interval")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--child-agents", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_agents is not None:
        with tempfile.TemporaryDirectory(prefix="orchd-scale-") as tmp:
            print(json.dumps(_once(args, Path(tmp))))
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(
        f"scale: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
        f"open files {soft}/{hard}; starts over {args.spread_s:g}s, runs {args.run_s:g}s "
        f"(±1/3), polling every {args.poll_s:g}s; median [min–max] of the repetitions"
    )
    header = f"{'N':>5} {'mode':<5} " + " ".join(f"{c[0]:>17}" for c in _COLUMNS.values())
    print(header)
    for n in (int(x) for x in args.agents.split(",")):
        for mode in args.modes.split(","):
            reps = args.repeat_large if n >= 2000 else args.repeat
            results = [_child(args, n, mode) for _ in range(reps)]
            cells = [
                f"{_spread([r[k] for r in results], fmt):>17}" for k, (_, fmt) in _COLUMNS.items()
            ]
            print(f"{n:>5} {mode:<5} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
