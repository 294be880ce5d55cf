"""`python -m tests.bench.bench_validate`: how `orchd validate` time and memory grow with plan size.

Writes a generated release (manifest.yaml only) per shape and size, then runs `load_release` in a
fresh child process per case, so each peak RSS is that case's alone. Shapes:
- chain: FU-i depends on FU-(i-1), no batches given (orchd derives one batch per FU);
- chain-batched: the same chain with one manifest batch per FU;
- chain-one-batch: the same chain, every FU in batch 0;
- flat: no dependencies, one batch;
- batch-deps: two halves, the second batch depending on the first by batch id (`[0]`).
Prints CPU seconds (all of `load_release`, of which reading manifest.yaml and the plan checks),
wall seconds and peak RSS per case, and the growth between sizes. Not a test: nothing asserts a
speed (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHAPES = ("chain", "chain-batched", "chain-one-batch", "flat", "batch-deps")
RELEASE = "v9.0.0"


def manifest(shape: str, n: int) -> str:
    """A manifest of `n` FUs in the given shape."""
    lines = ["release:", f"  id: {RELEASE}", "execution_strategy:", "  type: multi_agent"]
    lines.append("feature_units:")
    for i in range(n):
        lines.append(f"  - id: FU-{i}")
        if shape.startswith("chain") and i:
            lines.append(f"    dependencies: [FU-{i - 1}]")
    if shape == "chain-batched":
        lines += ["execution_schedule:", "  batches:"]
        for i in range(n):
            lines += [f"    - batch_id: {i}", f"      feature_units: [FU-{i}]"]
    elif shape in {"chain-one-batch", "flat"}:
        members = ", ".join(f"FU-{i}" for i in range(n))
        lines += ["execution_schedule:", "  batches:", "    - batch_id: 0"]
        lines.append(f"      feature_units: [{members}]")
    elif shape == "batch-deps":
        half = n // 2
        first = ", ".join(f"FU-{i}" for i in range(half))
        second = ", ".join(f"FU-{i}" for i in range(half, n))
        lines += ["execution_schedule:", "  batches:", "    - batch_id: 0"]
        lines += [f"      feature_units: [{first}]", "    - batch_id: 1"]
        lines += [f"      feature_units: [{second}]", "      dependencies: [0]"]
    return "\n".join(lines) + "\n"


def one(shape: str, n: int) -> dict[str, float]:
    """Run in the child: write the release, load it, report CPU seconds per phase and peak RSS.

    CPU time (not wall time): the machine is shared, and other processes' load must not count.
    `manifest_s` is reading manifest.yaml (ruamel round-trip YAML, kept for line:col), `checks_s`
    the plan checks (`check_plan`), `total_s` all of `load_release` (both, plus the markdown,
    specs and plan building).
    """
    from orchestrator.adapters import manifest_yaml, release_loader
    from orchestrator.core import plan_checks

    spent = {"manifest_s": 0.0, "checks_s": 0.0}

    def timed(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - t0

        return run

    vars(release_loader).update(
        parse_manifest=timed("manifest_s", manifest_yaml.parse_manifest),
        check_plan=timed("checks_s", plan_checks.check_plan),
    )
    with tempfile.TemporaryDirectory(prefix="orchd-bench-validate-") as tmp:
        folder = Path(tmp) / "docs" / "releases" / "in_progress" / RELEASE
        folder.mkdir(parents=True)
        (folder / "manifest.yaml").write_text(manifest(shape, n))
        t0, w0 = time.process_time(), time.perf_counter()
        plan = release_loader.load_release(RELEASE, repo_root=Path(tmp))
        total_s, wall_s = time.process_time() - t0, time.perf_counter() - w0
    assert len(plan.feature_units) == n
    return {
        "total_s": total_s,
        "wall_s": wall_s,
        **spent,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--one", nargs=2, metavar=("SHAPE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]))))
        return
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    for shape in args.shapes:
        previous: tuple[int, dict[str, float]] | None = None
        for n in args.sizes:
            out = subprocess.run(
                [sys.executable, "-m", "tests.bench.bench_validate", "--one", shape, str(n)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result: dict[str, float] = json.loads(out)
            line = (
                f"{shape:>15} n={n:>6}: CPU {result['total_s']:6.2f}s "
                f"(manifest.yaml {result['manifest_s']:5.2f}s, checks {result['checks_s']:5.2f}s; "
                f"wall {result['wall_s']:6.2f}s), peak RSS {result['max_rss_mib']:4.0f} MiB"
            )
            if previous is not None:
                m, before = previous
                line += (
                    f"; x{n / m:g} FUs -> time x{result['total_s'] / before['total_s']:.1f}, "
                    f"RSS x{result['max_rss_mib'] / before['max_rss_mib']:.1f}"
                )
            print(line, flush=True)
            previous = (n, result)


if __name__ == "__main__":
    main()
