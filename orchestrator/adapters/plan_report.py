"""The plan as plain text: what `orchd validate` prints so a human can check it before a run."""

from __future__ import annotations

from orchestrator.models.batch_id import format_batch_id
from orchestrator.models.release import ReleasePlan


def render_plan(plan: ReleasePlan) -> str:
    """Batches in order with their FUs, the limits, gates, checkpoints, warnings and notes."""
    lines: list[str] = []
    title = f"Release {plan.release_id}"
    if plan.name:
        title += f" — {plan.name}"
    if plan.status:
        title += f" [{plan.status}]"
    lines += [
        title,
        f"  release dir: {plan.release_dir}",
        f"  schedule from: {plan.schedule_source}",
    ]
    limits = plan.limits
    retry = limits.retry
    retries = ", ".join(f"{p.value} {n}" for p, n in sorted(retry.max_retries.items()))
    lines += [
        "",
        "Limits",
        f"  strategy: {limits.type.value} (at most {limits.effective_parallel} FU(s) at once, "
        f"{limits.max_high_risk_in_parallel} high-risk)",
        f"  poll every {limits.poll_interval_s:g} s; "
        f"stale after {limits.stale_after_minutes:g} min; "
        f"FU timeout {limits.max_duration_minutes:g} min",
        f"  retries: {retries}; backoff {retry.backoff_initial_s:g}–{retry.backoff_max_s:g} s "
        f"x{retry.backoff_multiplier:g}",
        f"  auto_create_pr: {limits.auto_create_pr}; use_stream: {limits.use_stream}",
    ]
    units = {u.id: u for u in plan.feature_units}
    checkpoints = {c.after_batch: c for c in plan.checkpoints}
    lines += ["", f"Batches ({len(plan.batches)})"]
    for batch in sorted(plan.batches, key=lambda b: b.batch_id):
        head = f"  Batch {format_batch_id(batch.batch_id)}"
        if batch.title:
            head += f": {batch.title}"
        if batch.dependencies:
            head += f"  (waits for {', '.join(batch.dependencies)})"
        lines.append(head)
        for fu_id in batch.feature_units:
            unit = units.get(fu_id)
            if unit is None:
                lines.append(f"    {fu_id}  (not in feature_units)")
                continue
            deps = f"  deps: {', '.join(unit.dependencies)}" if unit.dependencies else ""
            name = f" {unit.name}" if unit.name else ""
            spec = "" if unit.spec_path else "  [no spec]"
            risk = f"{unit.priority.value} {unit.risk_level.value}-risk"
            lines.append(f"    {unit.id}{name}  {risk}{deps}{spec}")
        tests = plan.tests_for(batch.batch_id)
        if tests:
            lines.append(f"    integration tests after: {', '.join(t.id for t in tests)}")
        checkpoint = checkpoints.get(batch.batch_id)
        if checkpoint is not None:
            lines.append(f"    checkpoint {checkpoint.name}: human review after this batch")
    if plan.deferred:
        lines += ["", f"Deferred (not run): {', '.join(plan.deferred)}"]
    if plan.integration_tests:
        overridden = plan.limits.gate_overrides
        with_cmd = sum(1 for t in plan.integration_tests if t.command or t.id in overridden)
        lines += [
            "",
            f"Integration tests: {len(plan.integration_tests)} ({with_cmd} with a command)",
        ]
    lines += ["", f"Warnings ({len(plan.warnings)})"]
    lines += [f"  {w.render()}" for w in plan.warnings] or ["  none"]
    for note in plan.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines) + "\n"
