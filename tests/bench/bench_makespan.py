"""`make bench` (part 2): neotoma's v0.1.0 and v0.2.0, run for real on the fake Cursor server with
each FU taking its schedule estimate, against `orchd plan`'s prediction and the lower bound.

Each FU's fake agent runs for its estimate (hours on the fake's clock, `--seconds-per-hour` real
seconds each), really clones, commits and pushes; orchd merges every branch into the release
branch and gates each batch in a worktree (the gate command is `true`: the fixtures' tests are
neotoma's npm scripts). Checkpoints are answered `continue`. The makespan is the real time from
start to the last landing, in fake hours. orchd's own real time (merges, gates, launches) is in
it, magnified by the time scale: measured = schedule + overhead / scale, so runs at two scales
(default 1 and 3 s/h; v0.1.0 then takes 1 + 3 minutes) give both apart. Not a test: nothing
asserts; it prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import anyio
from pydantic import SecretStr

from orchestrator.adapters.cursor.settings import CursorSettings
from orchestrator.adapters.logging import configure_logging
from orchestrator.adapters.release_loader import load_release
from orchestrator.core.estimates import plan_durations_h
from orchestrator.core.simulate import Limits, compare
from orchestrator.daemon import RunEnv, run_release
from orchestrator.engine.configure import DecisionModes
from orchestrator.engine.settings import EngineSettings, GateSettings
from orchestrator.fakecursor.process import FakeCursorProcess
from orchestrator.fakecursor.seed_repo import seed_repo
from orchestrator.models.release import ReleasePlan

KEY = "bench-key"
NEOTOMA = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "neotoma"
RELEASES = {"v0.1.0": NEOTOMA / "head", "v0.2.0": NEOTOMA / "2a9e9b0"}


def _scenario(plan: ReleasePlan, seconds_per_hour: float, path: Path) -> None:
    durations = plan_durations_h(plan)
    scale = 3600.0 / seconds_per_hour  # simulated seconds per real second
    fus = {f: {"duration_s": hours * 3600.0} for f, hours in durations.items()}
    path.write_text(
        json.dumps(
            {
                "time_scale": scale,
                "heartbeat_interval_s": 600,
                "defaults": {"creating_s": 0, "tool_calls": 3, "thinking_every_s": 1800},
                "fus": fus,
            }
        )
    )


def _starts(status: Path, t0: float, seconds_per_hour: float) -> dict[str, float]:
    """Each FU's launch, in fake hours from the release's start (from the status file)."""
    data = json.loads(status.read_text())
    first = data["orchestrator"]["started_at"]
    from datetime import datetime

    zero = datetime.fromisoformat(first).timestamp()
    return {
        fu["fu_id"]: (datetime.fromisoformat(fu["started_at"]).timestamp() - zero)
        / seconds_per_hour
        for batch in data["batches"]
        for fu in batch["feature_units"]
        if fu.get("started_at")
    }


def _once(
    release_id: str, seconds_per_hour: float, workdir: Path, show: dict[str, float] | None = None
) -> float:
    # the fixtures' tests are neotoma's npm scripts, which the seeded repo has not: each gate
    # runs `true` instead (its worktree and git work still happen)
    plan = load_release(release_id, repo_root=RELEASES[release_id]).model_copy(
        update={"integration_tests": ()}
    )
    scenario = workdir / "scenario.json"
    _scenario(plan, seconds_per_hour, scenario)
    repo_url = seed_repo(workdir / "remote.git", project="bench")
    fake = FakeCursorProcess(api_key=KEY, scenario=scenario)
    try:
        settings = EngineSettings(
            repo_url=repo_url,
            state_dir=workdir / "state",
            poll_interval_s=1.0,
            stale_after_s=3600.0,
            max_duration_s=24 * 3600.0,
            use_stream=True,
            gate=GateSettings(template=None, release_command="true"),
        )
        run_env = RunEnv(
            cursor=CursorSettings(base_url=fake.url, api_key=SecretStr(KEY)),
            repo_url=repo_url,
            release_branch="main",
        )
        t0 = time.perf_counter()
        outcome = anyio.run(
            lambda: run_release(
                plan,
                settings,
                run_env,
                workdir / "agent_status.json",
                install_signal_handlers=False,
                modes=DecisionModes("fail", "continue", None),
            )
        )
        wall = time.perf_counter() - t0
    finally:
        fake.stop()
    if outcome.status.value != "completed":
        errors = [e.message for e in outcome.snapshot.errors]
        raise SystemExit(f"{release_id} ended {outcome.status.value}: {errors}")
    if show is not None:
        starts = _starts(workdir / "agent_status.json", t0, seconds_per_hour)
        for fu_id, predicted in sorted(show.items(), key=lambda kv: kv[1]):
            print(f"  {fu_id}: predicted start {predicted:6.2f} h, measured {starts[fu_id]:6.2f} h")
    return wall / seconds_per_hour


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--seconds-per-hour",
        type=float,
        nargs="+",
        default=[1.0, 3.0],
        help="real seconds per fake hour; two or more scales give orchd's overhead apart",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--release", action="append", choices=sorted(RELEASES))
    parser.add_argument("--show", action="store_true", help="each FU's start, predicted/measured")
    args = parser.parse_args()
    configure_logging(level="error")
    scales = sorted(args.seconds_per_hour)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python "
        f"{platform.python_version()}; 1 fake hour = {', '.join(f'{s:g}' for s in scales)} "
        "real seconds"
    )
    for release_id in args.release or sorted(RELEASES):
        plan = load_release(release_id, repo_root=RELEASES[release_id])
        limits = Limits(plan.limits.effective_parallel, plan.limits.max_high_risk_in_parallel)
        predicted = compare(plan, plan_durations_h(plan), limits)
        bound = predicted.lower_bound_h
        print(
            f"{release_id}: sequential {predicted.sequential_h:.2f} h, bound {bound:.2f} h, "
            f"predicted {predicted.predicted.makespan_h:.2f} h "
            f"({predicted.predicted.makespan_h / bound:.3f}x bound)"
        )
        medians: list[float] = []
        for scale in scales:
            runs = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory(prefix="orchd-makespan-") as tmp:
                    bars = predicted.predicted.bars
                    show = {b.fu_id: b.start_h for b in bars} if args.show else None
                    runs.append(_once(release_id, scale, Path(tmp), show))
            medians.append(statistics.median(runs))
            spread = f" (min {min(runs):.2f}, max {max(runs):.2f})" if len(runs) > 1 else ""
            print(
                f"  measured at {scale:g} s/h: {medians[-1]:.2f} h "
                f"({medians[-1] / bound:.3f}x bound){spread}"
            )
        if len(scales) >= 2:
            # measured = schedule + overhead / scale: two scales separate the two
            low, high = scales[0], scales[-1]
            schedule = (medians[-1] * high - medians[0] * low) / (high - low)
            overhead_s = (medians[0] - schedule) * low
            print(
                f"  schedule without orchd's own time: {schedule:.2f} h "
                f"({schedule / bound:.3f}x bound); orchd's real time on the critical path "
                f"(merges, gates, launches): {overhead_s:.1f} s"
            )


if __name__ == "__main__":
    main()
