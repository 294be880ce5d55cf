"""`python -m tests.bench.bench_startup`: how long the quick commands take, start-up included.

Each case runs the installed `orchd` as a person runs it (a fresh process, output to a pipe),
`--runs` times after one warm-up, and prints wall and CPU seconds (user + system of the child) as
min / median / max. The cases: `orchd --help`, and `orchd validate` and `orchd status` on two
releases in a temp dir: the demo's v0.1.0 (28 FUs) and a generated 2,000-FU release (two
batches, the second depending on the first), each with the status file of a run half done (one
batch completed, the next running). Not a test: nothing asserts a speed (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from orchestrator.adapters.release_loader import load_release
from orchestrator.adapters.status_store import render
from orchestrator.models.status import BatchEntry, FuEntry, OrchestratorEntry, StatusFile
from tests.bench.bench_validate import manifest

ORCHD = Path(sys.executable).with_name("orchd")
DEMO = "v0.1.0"
BIG = "v9.0.0"  # bench_validate's generated release id
BIG_FUS = 2000


def _demo_release(root: Path) -> None:
    bundle = resources.files("orchestrator").joinpath("data/demo/docs")
    with resources.as_file(bundle) as source:
        shutil.copytree(source, root / "docs", dirs_exist_ok=True)


def _big_release(root: Path) -> None:
    folder = root / "docs" / "releases" / "in_progress" / BIG
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(manifest("batch-deps", BIG_FUS))


def _write_half_done_status(release_id: str, root: Path) -> None:
    """The file orchd writes mid-run: the first batch landed, the second running."""
    plan = load_release(release_id, repo_root=root)
    start = datetime.now(UTC) - timedelta(hours=3)
    batches = []
    for number, batch in enumerate(plan.batches):
        done = number == 0
        running = number == 1
        units = []
        for i, fu_id in enumerate(batch.feature_units):
            at = start + timedelta(minutes=i % 60)
            if done:
                units.append(
                    FuEntry(
                        fu_id=fu_id,
                        estimate_h=plan.fu(fu_id).estimate_hours,
                        status="completed",
                        progress=1.0,
                        worker_agent_id=f"bc-{i:08x}",
                        run_id=f"run-{i}",
                        attempts=1,
                        started_at=at,
                        last_update=at + timedelta(hours=1),
                        completed_at=at + timedelta(hours=1),
                        landed_at=at + timedelta(hours=1),
                        duration_s=3600.0,
                        branch=f"cursor/{fu_id.lower()}",
                        run_time_s=3600.0,
                    )
                )
            elif running:
                units.append(
                    FuEntry(
                        fu_id=fu_id,
                        estimate_h=plan.fu(fu_id).estimate_hours,
                        status="running",
                        progress=0.5,
                        worker_agent_id=f"bc-{i + 1:08x}",
                        run_id=f"run-b{i}",
                        attempts=1,
                        started_at=at + timedelta(hours=2),
                        last_update=at + timedelta(hours=2, minutes=30),
                        run_started_at=at + timedelta(hours=2),
                    )
                )
            else:
                units.append(FuEntry(fu_id=fu_id, estimate_h=plan.fu(fu_id).estimate_hours))
        batches.append(
            BatchEntry(
                batch_id=batch.batch_id,
                status="completed" if done else "running" if running else "pending",
                started_at=start if done or running else None,
                completed_at=start + timedelta(hours=2) if done else None,
                feature_units=units,
            )
        )
    snapshot = StatusFile(
        release_id=release_id,
        orchestrator=OrchestratorEntry(
            agent_id="orchd_bench",
            status="running",
            started_at=start,
            first_started_at=start,
            current_batch=plan.batches[1].batch_id,
            max_parallel_fus=plan.limits.effective_parallel,  # what orchd records at start
        ),
        batches=batches,
        completed_fus=[fu.fu_id for fu in batches[0].feature_units],
    )
    status = Path(plan.release_dir) / "agent_status.json"
    status.write_bytes(render(snapshot))


def _timed(argv: Sequence[str], runs: int) -> tuple[list[float], list[float], int]:
    """Wall and CPU seconds of each run (after one warm-up) and the last exit code."""
    walls: list[float] = []
    cpus: list[float] = []
    code = 0
    for run in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        code = done.returncode
        if run:  # the first run warms the disk cache and the .pyc files
            walls.append(wall)
            cpus.append(
                after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
            )
    return walls, cpus, code


def _spread(values: list[float]) -> str:
    return (
        f"{min(values) * 1000:5.0f} / {statistics.median(values) * 1000:5.0f} / "
        f"{max(values) * 1000:5.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per case")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python "
        f"{platform.python_version()}, {platform.platform()}; {args.runs} runs per case "
        "after one warm-up; min / median / max"
    )
    with tempfile.TemporaryDirectory(prefix="orchd-bench-startup-") as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        _demo_release(small)
        _big_release(big)
        _write_half_done_status(DEMO, small)
        _write_half_done_status(BIG, big)
        cases: list[tuple[str, list[str]]] = [("orchd --help", ["--help"])]
        for release, root, size in ((DEMO, small, "28"), (BIG, big, f"{BIG_FUS:,}")):
            for command in ("validate", "status"):
                name = f"orchd {command} {release} ({size} FUs)"
                cases.append((name, [command, release, "--repo-root", str(root)]))
        for name, argv in cases:
            walls, cpus, code = _timed([str(ORCHD), *argv], args.runs)
            print(
                f"{name:<34} wall {_spread(walls)}   cpu {_spread(cpus)}   exit {code}",
                flush=True,
            )


if __name__ == "__main__":
    main()
