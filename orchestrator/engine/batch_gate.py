"""Run a batch's integration tests (or the full suite) and report them as a status event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import structlog

from orchestrator.adapters.gate_runner import run_gate
from orchestrator.core.gate import failure_summary, gate_passed, gate_steps, tests_for_batch
from orchestrator.engine.settings import GateSettings
from orchestrator.models.events import GateFinished
from orchestrator.models.release import ReleasePlan

log = structlog.get_logger("orchd.gate")


@dataclass(frozen=True)
class GateOutcome:
    ran: bool
    passed: bool
    summary: str
    event: GateFinished | None


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
) -> GateOutcome:
    """Tests covering `batch_id` (None: every test) plus the release gate command."""
    steps = gate_steps(
        tests_for_batch(plan.integration_tests, batch_id),
        template=settings.template,
        overrides=settings.overrides,
        release_command=settings.release_command,
        shell=settings.shell,
    )
    if not steps:
        return GateOutcome(ran=False, passed=True, summary="", event=None)
    env = {
        **settings.extra_env,
        "ORCHD_RELEASE_ID": plan.release_id,
        "ORCHD_BATCH_ID": _label(batch_id),
        "ORCHD_FU_BRANCHES": " ".join(branches),
    }
    log_path = log_dir / f"batch-{_label(batch_id)}.log"
    runner = settings.runner or run_gate
    log.info("batch.gate_started", batch_id=_label(batch_id), tests=len(steps))
    results = await runner(
        steps, workdir=settings.workdir, env=env, timeout_s=settings.timeout_s, log_path=log_path
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
        status="passed" if passed else "failed",
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
    return GateOutcome(ran=True, passed=passed, summary=summary, event=event)
