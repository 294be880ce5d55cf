"""Run a batch's integration tests (or the full suite) and report them as a status event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import structlog

from orchestrator.adapters.gate_runner import run_gate
from orchestrator.core.gate import (
    failure_summary,
    gate_label,
    gate_passed,
    gate_steps,
    tests_for_batch,
)
from orchestrator.engine.settings import GateSettings
from orchestrator.models.events import GateFinished
from orchestrator.models.release import ReleasePlan

log = structlog.get_logger("orchd.gate")


@dataclass(frozen=True)
class GateOutcome:
    ran: bool
    passed: bool
    summary: str
    event: GateFinished
    log_path: Path | None = None


def _label(batch_id: Decimal | None) -> str:
    return "full" if batch_id is None else format(batch_id, "f")


async def run_batch_gate(
    plan: ReleasePlan,
    settings: GateSettings,
    *,
    batch_id: Decimal | None,
    branches: Iterable[str],
    log_dir: Path,
    at: datetime,
    workdir: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> GateOutcome:
    """Tests covering `batch_id` (None: every test) plus the release gate command, run in
    `workdir` (the candidate's worktree; never the user's checkout)."""
    steps = gate_steps(
        tests_for_batch(plan.integration_tests, batch_id),
        template=settings.template,
        overrides=settings.overrides,
        release_command=settings.release_command,
        shell=settings.shell,
    )
    if not steps:
        log.info("batch.gate_no_tests", batch_id=_label(batch_id))
        return GateOutcome(
            ran=False,
            passed=not settings.strict,
            summary="" if not settings.strict else "no tests cover this batch (strict gate)",
            event=GateFinished(
                at=at,
                batch_id=batch_id,
                status="no_tests" if not settings.strict else "failed",
                tests=(),
            ),
        )
    env = {
        **settings.extra_env,
        **(extra_env or {}),
        "ORCHD_RELEASE_ID": plan.release_id,
        "ORCHD_BATCH_ID": _label(batch_id),
        "ORCHD_FU_BRANCHES": " ".join(branches),
    }
    log_path = log_dir / f"batch-{_label(batch_id)}.log"
    runner = settings.runner or run_gate
    log.info("batch.gate_started", batch_id=_label(batch_id), tests=len(steps))
    results = await runner(
        steps,
        workdir=workdir or settings.workdir,
        env=env,
        timeout_s=settings.timeout_s,
        log_path=log_path,
    )
    passed = gate_passed(results, strict=settings.strict)
    summary = failure_summary(results)
    log.info(
        "batch.gate_passed" if passed else "batch.gate_failed",
        batch_id=_label(batch_id),
        summary=summary,
    )
    event = GateFinished(
        at=at,
        batch_id=batch_id,
        status=gate_label(results, passed=passed),
        tests=tuple(
            {
                "id": r.test_id,
                "status": r.status.value,
                "duration_s": round(r.duration_s, 3),
                "log": r.log,
            }
            for r in results
        ),
    )
    return GateOutcome(ran=True, passed=passed, summary=summary, event=event, log_path=log_path)
