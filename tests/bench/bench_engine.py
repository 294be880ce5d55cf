"""`make bench`: one orchd process driving N concurrent agents against the fake over loopback.

The fake runs in its own process (so orchd's CPU is measured alone). Each repetition seeds a
throwaway local repo: the fake agents clone it and push a branch each, and orchd merges all of
them into the release branch (one batch, one candidate, no integration tests), so the figures
include the merge queue. Prints wall time, orchd's CPU time (and its git children's), peak RSS,
per run, over several repetitions with the spread, because these machines are noisy. Not a test:
nothing asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import anyio
from pydantic import SecretStr

from orchestrator.adapters.cursor.settings import CursorSettings
from orchestrator.adapters.logging import configure_logging
from orchestrator.daemon import RunEnv, run_release
from orchestrator.engine.settings import EngineSettings
from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo
from orchestrator.models.release import Batch, FeatureUnit, Limits, ReleasePlan

KEY = "bench-key"


def _plan(n: int) -> ReleasePlan:
    units = tuple(FeatureUnit(id=f"FU-{i:04d}", name=f"bench {i}") for i in range(n))
    return ReleasePlan(
        release_id="v0.0.0-bench",
        release_dir="/nonexistent",
        limits=Limits(max_parallel_fus=n, max_high_risk_in_parallel=1),
        feature_units=units,
        batches=(Batch(batch_id=Decimal(0), feature_units=tuple(u.id for u in units)),),
    )


def _once(n: int, duration_s: float, stream: bool, workdir: Path) -> dict[str, float]:
    scenario = workdir / "scenario.yaml"
    # 1 simulated hour takes `duration_s` real seconds; heartbeats every 2 simulated minutes
    scenario.write_text(
        f"time_scale: {3600 / duration_s}\nheartbeat_interval_s: 120\n"
        "defaults: {creating_s: 60, duration_s: 3600, tool_calls: 5}\n"
    )
    repo_url = seed_repo(workdir / "remote.git", project="bench")
    fake = FakeCursorProcess(api_key=KEY, scenario=scenario)
    url = fake.url
    try:
        settings = EngineSettings(
            repo_url=repo_url,
            state_dir=workdir / "state",
            poll_interval_s=0.5,
            stale_after_s=60.0,
            max_duration_s=600.0,
            use_stream=stream,
            archive_finished_agents=True,
        )
        run_env = RunEnv(
            cursor=CursorSettings(base_url=url, api_key=SecretStr(KEY)),
            repo_url=settings.repo_url,
            release_branch="main",
        )
        status = workdir / "agent_status.json"
        before = resource.getrusage(resource.RUSAGE_SELF)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        outcome = anyio.run(
            lambda: run_release(_plan(n), settings, run_env, status, install_signal_handlers=False)
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)  # git (the fake still runs)
    finally:
        fake.stop()
    if outcome.status.value != "completed":
        raise SystemExit(f"bench release ended {outcome.status.value}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    git_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "git_cpu_s": git_cpu,
        "cpu_per_agent_ms": 1000 * cpu / n,
        "overhead_ratio": wall / duration_s,
        "peak_running": outcome.peak_running,
        "max_rss_mib": after.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--run-seconds", type=float, default=10.0, help="real seconds per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--poll", action="store_true", help="poll runs instead of streaming")
    args = parser.parse_args()
    configure_logging(level="error")
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}; "
        f"{args.agents} agents at once, each run {args.run_seconds:g}s real, "
        f"{'polling' if args.poll else 'SSE stream'}, {args.repeat} repetitions"
    )
    results = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="orchd-bench-") as tmp:
            result = _once(args.agents, args.run_seconds, not args.poll, Path(tmp))
        results.append(result)
        print(f"  run {i + 1}: " + ", ".join(f"{k}={v:.3g}" for k, v in result.items()))
    for key in (
        "wall_s",
        "cpu_s",
        "git_cpu_s",
        "cpu_per_agent_ms",
        "overhead_ratio",
        "max_rss_mib",
    ):
        values = [r[key] for r in results]
        print(
            f"{key:>18}: median {statistics.median(values):.3g}  "
            f"min {min(values):.3g}  max {max(values):.3g}"
        )


if __name__ == "__main__":
    main()
